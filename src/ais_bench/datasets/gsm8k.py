"""GSM8K: ``<data root>/gsm8k/test.jsonl`` rows (``question``, ``answer``) to request items.

The prompt comes from the dataset config's template (``infer_cfg.prompt_template.template``): a
chat template (list of ``{"role", "content"}`` with ``{question}`` placeholders) gives chat messages,
a string template gives a string prompt. Without a template, the fixed 4-shot chain-of-thought chat
of AISBench's ``gsm8k_gen_4_shot_cot_chat_prompt`` is used: four (user, assistant) example pairs,
then the question, 9 messages in all.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ais_bench.datasets.item import Prompt, RequestItem
from ais_bench.datasets.paths import DATA_ROOT_ENV, data_root, resolve_data_path
from ais_bench.datasets.rows import read_jsonl_rows
from ais_bench.errors import DatasetError

DOWNLOAD_URL = "http://opencompass.oss-cn-shanghai.aliyuncs.com/datasets/data/gsm8k.zip"
DEFAULT_PATH = "ais_bench/datasets/gsm8k"
USER_FORMAT = "Question: {question}\nLet's think step by step\nAnswer:"

#: The four worked examples (GSM8K train questions) of the 4-shot chain-of-thought prompt.
FOUR_SHOT_EXAMPLES: tuple[tuple[str, str], ...] = (
    (
        "Angelo and Melanie want to plan how many hours over the next week they should study together for their test next week. They have 2 chapters of their textbook to study and 4 worksheets to memorize. They figure out that they should dedicate 3 hours to each chapter of their textbook and 1.5 hours for each worksheet. If they plan to study no more than 4 hours each day, how many days should they plan to study total over the next week if they take a 10-minute break every hour, include 3 10-minute snack breaks each day, and 30 minutes for lunch each day?",
        "Angelo and Melanie think they should dedicate 3 hours to each of the 2 chapters, 3 hours x 2 chapters = 6 hours total.\nFor the worksheets they plan to dedicate 1.5 hours for each worksheet, 1.5 hours x 4 worksheets = 6 hours total.\nAngelo and Melanie need to start with planning 12 hours to study, at 4 hours a day, 12 / 4 = 3 days.\nHowever, they need to include time for breaks and lunch. Every hour they want to include a 10-minute break, so 12 total hours x 10 minutes = 120 extra minutes for breaks.\nThey also want to include 3 10-minute snack breaks, 3 x 10 minutes = 30 minutes.\nAnd they want to include 30 minutes for lunch each day, so 120 minutes for breaks + 30 minutes for snack breaks + 30 minutes for lunch = 180 minutes, or 180 / 60 minutes per hour = 3 extra hours.\nSo Angelo and Melanie want to plan 12 hours to study + 3 hours of breaks = 15 hours total.\nThey want to study no more than 4 hours each day, 15 hours / 4 hours each day = 3.75\nThey will need to plan to study 4 days to allow for all the time they need.\nThe answer is 4\n",
    ),
    (
        "Mark's basketball team scores 25 2 pointers, 8 3 pointers and 10 free throws.  Their opponents score double the 2 pointers but half the 3 pointers and free throws.  What's the total number of points scored by both teams added together?",
        "Mark's team scores 25 2 pointers, meaning they scored 25*2= 50 points in 2 pointers.\nHis team also scores 6 3 pointers, meaning they scored 8*3= 24 points in 3 pointers\nThey scored 10 free throws, and free throws count as one point so they scored 10*1=10 points in free throws.\nAll together his team scored 50+24+10= 84 points\nMark's opponents scored double his team's number of 2 pointers, meaning they scored 50*2=100 points in 2 pointers.\nHis opponents scored half his team's number of 3 pointers, meaning they scored 24/2= 12 points in 3 pointers.\nThey also scored half Mark's team's points in free throws, meaning they scored 10/2=5 points in free throws.\nAll together Mark's opponents scored 100+12+5=117 points\nThe total score for the game is both team's scores added together, so it is 84+117=201 points\nThe answer is 201\n",
    ),
    (
        "Bella has two times as many marbles as frisbees. She also has 20 more frisbees than deck cards. If she buys 2/5 times more of each item, what would be the total number of the items she will have if she currently has 60 marbles?",
        "When Bella buys 2/5 times more marbles, she'll have increased the number of marbles by 2/5*60 = 24\nThe total number of marbles she'll have is 60+24 = 84\nIf Bella currently has 60 marbles, and she has two times as many marbles as frisbees, she has 60/2 = 30 frisbees.\nIf Bella buys 2/5 times more frisbees, she'll have 2/5*30 = 12 more frisbees.\nThe total number of frisbees she'll have will increase to 30+12 = 42\nBella also has 20 more frisbees than deck cards, meaning she has 30-20 = 10 deck cards\nIf she buys 2/5 times more deck cards, she'll have 2/5*10 = 4 more deck cards.\nThe total number of deck cards she'll have is 10+4 = 14\nTogether, Bella will have a total of 14+42+84 = 140 items\nThe answer is 140\n",
    ),
    (
        "A group of 4 fruit baskets contains 9 apples, 15 oranges, and 14 bananas in the first three baskets and 2 less of each fruit in the fourth basket. How many fruits are there?",
        "For the first three baskets, the number of apples and oranges in one basket is 9+15=24\nIn total, together with bananas, the number of fruits in one basket is 24+14=38 for the first three baskets.\nSince there are three baskets each having 38 fruits, there are 3*38=114 fruits in the first three baskets.\nThe number of apples in the fourth basket is 9-2=7\nThere are also 15-2=13 oranges in the fourth basket\nThe combined number of oranges and apples in the fourth basket is 13+7=20\nThe fourth basket also contains 14-2=12 bananas.\nIn total, the fourth basket has 20+12=32 fruits.\nThe four baskets together have 32+114=146 fruits.\nThe answer is 146\n",
    ),
)


def four_shot_chat_template() -> tuple[dict[str, str], ...]:
    """The 9-message 4-shot chat template; the last message holds the ``{question}`` placeholder."""
    messages: list[dict[str, str]] = []
    for question, solution in FOUR_SHOT_EXAMPLES:
        messages.append({"role": "user", "content": USER_FORMAT.replace("{question}", question)})
        messages.append({"role": "assistant", "content": solution})
    messages.append({"role": "user", "content": USER_FORMAT})
    return tuple(messages)


def messages_to_text(messages: list[dict[str, str]]) -> str:
    """A chat prompt as one string for completions APIs: the contents joined by newlines."""
    return "\n".join(m["content"].rstrip("\n") for m in messages)


def fill_template(
    template: str | tuple[dict[str, str], ...], row: dict[str, Any], columns: tuple[str, ...]
) -> Prompt:
    """Replace each ``{column}`` of the template by the row's value (plain replace, so ``\\boxed{}`` stays)."""

    def fill(text: str) -> str:
        for column in columns:
            text = text.replace("{" + column + "}", str(row[column]))
        return text

    if isinstance(template, str):
        return fill(template)
    return [{**m, "content": fill(m["content"])} for m in template]


def gsm8k_files(path: str) -> tuple[Path, Path]:
    """``(test.jsonl, train.jsonl)`` of the dataset folder named by a config ``path``."""
    folder = resolve_data_path(path, DEFAULT_PATH)
    return folder / "test.jsonl", folder / "train.jsonl"


def _check_files(test: Path, train: Path) -> None:
    absent = [p for p in (test, train) if not p.is_file()]
    if not absent:
        return
    raise DatasetError(
        "GSM8K file(s) not found: " + ", ".join(str(p) for p in absent),
        hint=(
            f"download {DOWNLOAD_URL}, unzip it and put test.jsonl and train.jsonl in {test.parent}/ "
            f"(or set {DATA_ROOT_ENV} to a folder holding gsm8k/, now {data_root()}; "
            "or set an absolute path= in the dataset config)"
        ),
    )


def read_gsm8k_rows(test: Path, columns: tuple[str, ...]) -> list[dict[str, Any]]:
    """Parse ``test.jsonl``; each line must be a JSON object with a string for every column."""
    rows = []
    for line_no, row in read_jsonl_rows(test):
        for column in columns:
            if not isinstance(row.get(column), str):
                raise DatasetError(f"{test}:{line_no}: field '{column}' is missing or not a string")
        rows.append(row)
    return rows


def load_gsm8k_items(
    path: str,
    abbr: str,
    selection: slice,
    template: str | tuple[dict[str, str], ...] | None = None,
    columns: tuple[str, ...] = ("question",),
) -> list[RequestItem]:
    """Request items for the selected test rows (``index`` counts from 0 after selection)."""
    test, train = gsm8k_files(path)
    _check_files(test, train)
    rows = read_gsm8k_rows(test, columns)[selection]
    template = four_shot_chat_template() if template is None else template
    return [
        RequestItem(index=i, prompt=fill_template(template, row, columns), data_abbr=abbr)
        for i, row in enumerate(rows)
    ]
