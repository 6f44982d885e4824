"""Unit tests for bedrock.regions and bedrock.values (no database, no Django)."""

from __future__ import annotations

import pytest

from bedrock.regions import GEOS, PARTITIONS, partition_for_region, profile_regions, validate_region
from bedrock.values import InvalidValue


def test_invalid_value_is_a_value_error() -> None:
    assert issubclass(InvalidValue, ValueError)
    assert PARTITIONS == ("aws", "aws-cn", "aws-us-gov")


# ---------------------------------------------------------------------------------------------
# Regions and partitions
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("region", "partition"),
    [
        ("us-east-1", "aws"),
        ("eu-west-3", "aws"),
        ("ap-southeast-4", "aws"),
        ("me-central-1", "aws"),
        ("us-gov-west-1", "aws-us-gov"),
        ("us-gov-east-1", "aws-us-gov"),
        ("cn-north-1", "aws-cn"),
        ("cn-northwest-1", "aws-cn"),
    ],
)
def test_regions(region: str, partition: str) -> None:
    assert partition_for_region(region) == partition
    assert validate_region(region) == region
    assert validate_region(region, partition) == region


@pytest.mark.parametrize(
    "region",
    ["", "us-east", "US-EAST-1", "us_east_1", "us-east-1a", "us-iso-east-1", "useast1", "a-b-1"],
)
def test_region_form_rejected(region: str) -> None:
    with pytest.raises(InvalidValue):
        validate_region(region)


def test_region_partition_mismatch() -> None:
    with pytest.raises(InvalidValue, match="belongs to the aws-cn partition, not aws"):
        validate_region("cn-north-1", "aws")
    with pytest.raises(InvalidValue, match="partition must be aws, aws-cn or aws-us-gov"):
        validate_region("us-east-1", "aws-iso")


@pytest.mark.parametrize(
    ("geo", "regions"),
    [
        ("us", ["us-east-1", "us-east-2", "us-west-2"]),
        (
            "eu",
            ["eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"],
        ),
        (
            "apac",
            [
                "ap-northeast-1",
                "ap-northeast-2",
                "ap-northeast-3",
                "ap-south-1",
                "ap-south-2",
                "ap-southeast-1",
                "ap-southeast-2",
                "ap-southeast-4",
            ],
        ),
        ("jp", ["ap-northeast-1", "ap-northeast-3"]),
        ("au", ["ap-southeast-2", "ap-southeast-4"]),
        ("ca", ["ca-central-1", "ca-west-1"]),
        ("us-gov", ["us-gov-west-1", "us-gov-east-1"]),
        ("global", ["*"]),
    ],
)
def test_profile_regions(geo: str, regions: list[str]) -> None:
    assert profile_regions(geo) == regions
    # A copy: callers can't change the table.
    profile_regions(geo).append("xx-test-1")
    assert profile_regions(geo) == regions


def test_every_geo_has_regions() -> None:
    assert set(GEOS) == {"us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"}
    for geo in GEOS:
        assert profile_regions(geo)


def test_profile_regions_unknown() -> None:
    with pytest.raises(InvalidValue, match="Unknown inference profile geography"):
        profile_regions("mars")
