"""The archive benchmark's data: a deterministic CSV of persons in households, in the import
template's columns, with valid ID numbers of Quzhou regions (see bench/archive.py)."""

from __future__ import annotations

import csv
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from stdnum.cn import ric

from core.archives.idnumbers import _region_issued
from core.archives.template import COLUMNS

SEED = 20261127
# Quzhou's county-level regions (柯城, 衢江, 常山, 开化, 龙游, 江山) and the former 衢县.
REGIONS = ("330802", "330803", "330822", "330824", "330825", "330881", "330821")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华建国志红文玉梅德福海林春金荣"
EARLIEST, LATEST = date(1930, 1, 1), date(2024, 12, 31)


@dataclass
class Sample:
    """What the lookups of the benchmark ask for: ID numbers and name prefixes known to exist."""

    id_numbers: list[str] = field(default_factory=list)
    surnames: list[str] = field(default_factory=list)


PER_DAY = 500  # three-digit sequence numbers per region and day: 000-998, odd for men


def id_number(born: date, male: bool, serial: int, taken: dict[str, int]) -> str:
    """A valid, unused 18-character ID number of a region that existed in the birth year
    (``taken`` counts the sequence numbers given per region and day; a region whose day is
    full passes to the next)."""
    regions = [r for r in REGIONS if _region_issued(r, born.year)]
    for step in range(len(regions)):
        stem = f"{regions[(serial + step) % len(regions)]}{born:%Y%m%d}"
        order = taken.get(stem, 0)
        if order < PER_DAY:
            taken[stem] = order + 1
            body = f"{stem}{order * 2 + (1 if male else 0):03d}"  # odd for men
            return body + ric.calc_check_digit(body + "0")
    raise ValueError(f"more than {PER_DAY * len(regions)} persons born on {born}")


def _people(rng: random.Random, size: int) -> Iterator[tuple[str, int, bool]]:
    """(relation, age, male) of a household of ``size``: a head, a spouse, children, a parent."""
    head_age = rng.choices(
        (rng.randint(22, 45), rng.randint(46, 64), rng.randint(65, 92)), (4, 4, 3)
    )[0]
    male = rng.random() < 0.6
    yield "户主", head_age, male
    if size > 1:
        yield "配偶", max(20, head_age + rng.randint(-4, 4)), not male
    for _ in range(max(0, size - 2 - (1 if size >= 5 else 0))):
        yield "子女", max(0, head_age - rng.randint(22, 34)), rng.random() < 0.5
    if size >= 5:
        yield "父母", min(100, head_age + rng.randint(22, 30)), rng.random() < 0.4


def write_csv(path: Path, persons: int, grids: list[str], today: date) -> Sample:
    """Write about ``persons`` rows (households of 1-5, 2.5 on average) over ``grids``."""
    rng = random.Random(SEED)
    sample = Sample()
    serial = 0
    household = 0
    taken: dict[str, int] = {}
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        while serial < persons:
            household += 1
            grid = grids[household % len(grids)]
            number = f"B{household:08d}"
            address = f"衢州市柯城区{grid[9:12]}村{household % 997 + 1}号"
            size = rng.choices((1, 2, 3, 4, 5), (20, 30, 20, 18, 12))[0]
            for relation, age, male in _people(rng, size):
                if serial >= persons:
                    break
                born = today.replace(year=today.year - age) - timedelta(days=rng.randint(1, 360))
                # Outside the years the regions cover: spread over the first or last year
                # (piled on one day, they would run out of sequence numbers).
                if born > LATEST:
                    born = LATEST - timedelta(days=rng.randint(0, 364))
                elif born < EARLIEST:
                    born = EARLIEST + timedelta(days=rng.randint(0, 364))
                number_id = id_number(born, male, serial, taken)
                name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.randint(1, 2)))
                phone = f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}"
                gender = "男" if male else "女"
                row = (name, number_id, gender, born.isoformat(), phone, number, relation)
                writer.writerow((*row, address, grid))
                if serial % 997 == 0:
                    sample.id_numbers.append(number_id)
                    sample.surnames.append(name[0])
                serial += 1
    return sample
