"""ID numbers (身份证号): validation beyond the checksum, masking, keyed hash, encryption."""

from __future__ import annotations

from datetime import date

import pytest

from core.archives.crypto import ArchiveCipher, ArchiveKeyError
from core.archives.idnumbers import (
    IdNumberError,
    birth_date_of,
    gender_of,
    mask_id_number,
    mask_phone,
    validate_id_number,
    validate_phone,
)

MAN = "330802199001011232"  # 柯城区, 1990-01-01, odd sequence: male
GIRL = "330802201506010024"  # 2015-06-01, even sequence: female
KEY_A = "a" * 32
KEY_B = "b" * 32


def test_valid_numbers_are_canonical_and_carry_birth_date_and_gender() -> None:
    assert validate_id_number(" 330802199001011232 ") == MAN
    assert validate_id_number("11010519491231002x") == "11010519491231002X"
    assert (birth_date_of(MAN), gender_of(MAN)) == (date(1990, 1, 1), "male")
    assert (birth_date_of(GIRL), gender_of(GIRL)) == (date(2015, 6, 1), "female")


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("330802199001011233", "校验位错误"),  # one digit off the check digit
        ("330802199001011", "18 位"),
        ("3308021990010112A2", "18 位"),
        ("330802199002301231", "出生日期或地区码无效"),  # 30 February
        ("999999199001011238", "出生日期或地区码无效"),  # no such region
    ],
)
def test_bad_numbers_are_refused_with_the_reason(number: str, reason: str) -> None:
    with pytest.raises(IdNumberError, match=reason):
        validate_id_number(number)


def test_a_birth_date_in_the_future_is_refused_though_the_checksum_holds() -> None:
    future = "330802300001010014"  # born 3000-01-01, check digit right
    with pytest.raises(IdNumberError, match="未来"):
        validate_id_number(future)
    # The day of birth itself is fine; the next day is not yet.
    assert validate_id_number(GIRL, today=date(2015, 6, 1)) == GIRL
    with pytest.raises(IdNumberError, match="未来"):
        validate_id_number(GIRL, today=date(2015, 5, 31))


def test_masking_keeps_region_and_last_four_of_an_id_and_ends_of_a_phone() -> None:
    assert mask_id_number(MAN) == "330802********1232"
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("0570-1234567") == "057*****4567"
    assert mask_phone("12345") == "*****"


def test_phones_are_checked() -> None:
    assert validate_phone("138 1234 5678") == "13812345678"
    with pytest.raises(ValueError, match="联系电话"):
        validate_phone("12345")


def test_the_keyed_hash_is_stable_per_key_and_differs_between_keys() -> None:
    first, again = ArchiveCipher(KEY_A), ArchiveCipher(KEY_A)
    assert first.lookup_hash(MAN) == again.lookup_hash(MAN)
    assert len(first.lookup_hash(MAN)) == 64
    assert first.lookup_hash(MAN) != first.lookup_hash(GIRL)
    assert first.lookup_hash(MAN) != ArchiveCipher(KEY_B).lookup_hash(MAN)


def test_ciphertext_round_trips_and_never_repeats() -> None:
    cipher = ArchiveCipher(KEY_A)
    one, two = cipher.encrypt(MAN), cipher.encrypt(MAN)
    assert one != two and MAN not in one
    assert cipher.decrypt(one) == cipher.decrypt(two) == MAN
    assert len(one) <= 80  # fits archive_person.id_cipher


def test_a_wrong_key_or_altered_ciphertext_fails_loudly() -> None:
    token = ArchiveCipher(KEY_A).encrypt(MAN)
    with pytest.raises(ArchiveKeyError, match="SANMIN_ARCHIVE_KEY"):
        ArchiveCipher(KEY_B).decrypt(token)
    altered = token[:-4] + ("AAAA" if token[-4:] != "AAAA" else "BBBB")
    with pytest.raises(ArchiveKeyError):
        ArchiveCipher(KEY_A).decrypt(altered)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        ArchiveCipher("short")


def with_check_digit(body: str) -> str:
    from stdnum.cn import ric

    return body + ric.calc_check_digit(body + "0")


@pytest.mark.parametrize(
    ("body", "valid"),
    [
        ("33080219500101123", True),  # 柯城区 (created 1985), an elder born 1950: stdnum refuses
        ("33082119700101123", True),  # 衢县, issued 1984-2001 to someone born in 1970
        ("33082120100101123", False),  # 衢县 was gone (2001) before this child was born
        ("33080319800101123", True),  # 衢江区 (2001): issued later to someone born in 1980
        ("99999919900101123", False),  # no such region, ever
    ],
)
def test_the_region_must_have_existed_when_the_number_could_be_issued(
    body: str, valid: bool
) -> None:
    number = with_check_digit(body)
    if valid:
        assert validate_id_number(number) == number
    else:
        with pytest.raises(IdNumberError, match="地区码"):
            validate_id_number(number)


def test_the_validation_agrees_with_stdnum_but_for_the_region_year() -> None:
    """``_validate`` gives stdnum's verdict on a seeded sample of right, wrong-checksum,
    unknown-region and bad-date numbers, except that it accepts a region that did not exist
    in the birth year but did when the number could be issued; the birth date it returns
    with the number is stdnum's."""
    import random

    from stdnum.cn import ric

    from core.archives.idnumbers import _region_issued, _validate

    rng = random.Random(20261127)
    regions = ["330802", "330800", "110101", "999999", "330801", "330821"]

    def verdict(check, number: str) -> str:  # type: ignore[no-untyped-def]
        try:
            return check(number)
        except Exception as exc:  # the exception's type is the verdict
            return type(exc).__name__

    def ours_of(number: str) -> str:
        canonical, born = _validate(number)
        assert born == ric.get_birth_date(canonical)
        return canonical

    widened = 0
    for _ in range(2000):
        body = (
            f"{rng.choice(regions)}{rng.randint(1900, 2025):04d}{rng.randint(1, 13):02d}"
            f"{rng.randint(1, 31):02d}{rng.randint(0, 999):03d}"
        )
        number = with_check_digit(body)
        if rng.random() < 0.1:
            number = number[:-1] + ("0" if number[-1] != "0" else "1")
        ours, theirs = verdict(ours_of, number), verdict(ric.validate, number)
        if ours != theirs:  # only a region stdnum ties to the birth year
            assert (ours, theirs) == (number, "InvalidComponent"), number
            assert _region_issued(number[:6], ric.get_birth_date(number).year), number
            widened += 1
    assert widened > 0
