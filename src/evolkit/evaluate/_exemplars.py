"""evolkit's own worked examples for the few-shot GSM8K styles.

Eight grade-school word problems written for evolkit in the GSM8K layout (calculator notes and
a final ``#### N`` line). The ``gsm8k`` style shows them as they are; the ``gsm8k_cot`` style
shows the reasoning without calculator notes, ending ``The answer is N.``. They are not GSM8K
items, so no test question leaks into a prompt; pass a train file to draw exemplars from GSM8K
itself instead.
"""

from __future__ import annotations

__all__ = ["EXEMPLARS"]

EXEMPLARS: tuple[tuple[str, str], ...] = (
    (
        "A baker makes 24 muffins in each batch. On Saturday she bakes 7 batches and sells all "
        "but 15 of the muffins. How many muffins does she sell?",
        "She bakes 24 * 7 = <<24*7=168>>168 muffins.\n"
        "She sells 168 - 15 = <<168-15=153>>153 muffins.\n"
        "#### 153",
    ),
    (
        "Marco rides his bike 3.5 miles to school and the same distance back home every school "
        "day. How many miles does he ride in a 5-day school week?",
        "Each day he rides 3.5 * 2 = <<3.5*2=7>>7 miles.\n"
        "In 5 days he rides 7 * 5 = <<7*5=35>>35 miles.\n"
        "#### 35",
    ),
    (
        "A concert hall has 42 rows with 30 seats in each row. If 1,150 tickets were sold for "
        "tonight's show, how many seats will be empty?",
        "The hall has 42 * 30 = <<42*30=1260>>1,260 seats.\n"
        "The empty seats are 1260 - 1150 = <<1260-1150=110>>110.\n"
        "#### 110",
    ),
    (
        "Priya has $80. She buys 3 notebooks at $4 each and a backpack that costs 5 times as "
        "much as one notebook. How much money does she have left?",
        "The notebooks cost 3 * 4 = <<3*4=12>>12 dollars.\n"
        "The backpack costs 5 * 4 = <<5*4=20>>20 dollars.\n"
        "She spends 12 + 20 = <<12+20=32>>32 dollars.\n"
        "She has 80 - 32 = <<80-32=48>>48 dollars left.\n"
        "#### 48",
    ),
    (
        "A water tank holds 600 liters when full. It is 3/4 full, and then 125 liters are used "
        "to water the garden. How many liters are left in the tank?",
        "The tank holds 600 * 3/4 = <<600*3/4=450>>450 liters.\n"
        "After watering, 450 - 125 = <<450-125=325>>325 liters are left.\n"
        "#### 325",
    ),
    (
        "A phone plan costs $25 per month plus $0.10 for every text message. In March, Lena "
        "sent 340 text messages. How many dollars was her bill for March?",
        "The texts cost 0.10 * 340 = <<0.10*340=34>>34 dollars.\n"
        "Her bill was 25 + 34 = <<25+34=59>>59 dollars.\n"
        "#### 59",
    ),
    (
        "A farmer collects 18 eggs a day from his hens. He keeps 6 eggs each day and packs the "
        "rest into cartons of 6. How many cartons does he fill in two weeks?",
        "He packs 18 - 6 = <<18-6=12>>12 eggs a day.\n"
        "Two weeks are 7 * 2 = <<7*2=14>>14 days, so he packs 12 * 14 = <<12*14=168>>168 eggs.\n"
        "He fills 168 / 6 = <<168/6=28>>28 cartons.\n"
        "#### 28",
    ),
    (
        "The temperature at noon was 6 degrees. It then fell by 3 degrees every hour for 4 "
        "hours. What was the temperature after those 4 hours?",
        "The temperature fell 3 * 4 = <<3*4=12>>12 degrees.\n"
        "It was then 6 - 12 = <<6-12=-6>>-6 degrees.\n"
        "#### -6",
    ),
)
