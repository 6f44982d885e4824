"""Regions and partitions, and the regions each system inference profile routes to."""

from __future__ import annotations

import re
from typing import Final

from bedrock.values import InvalidValue, echo, require_text

__all__ = [
    "GEOS",
    "PARTITIONS",
    "REGION_PATTERN",
    "check_partition",
    "partition_for_region",
    "profile_regions",
    "validate_region",
]

PARTITIONS: Final = ("aws", "aws-cn", "aws-us-gov")
# Geographic prefixes of system-defined (cross-region) inference profiles.
GEOS: Final = ("us", "eu", "apac", "jp", "au", "ca", "us-gov", "global")
# The *form* of a region name: us-east-1, eu-central-2, us-gov-west-1, cn-north-1. Partitions
# such as aws-iso (us-iso-east-1) are not supported and do not match.
REGION_PATTERN = r"[a-z]{2}(?:-gov)?-[a-z]+-[0-9]{1,2}"
REGION_RE = re.compile(REGION_PATTERN)


def check_partition(partition: str) -> None:
    if partition not in PARTITIONS:
        raise InvalidValue(
            f"The partition must be aws, aws-cn or aws-us-gov (got {echo(partition, 20)})."
        )


def partition_for_region(region: str) -> str:
    """The partition a region belongs to (``cn-*`` → aws-cn, ``us-gov-*`` → aws-us-gov)."""
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


def validate_region(region: str, partition: str | None = None) -> str:
    """Check the form of a region name and, if given, that it belongs to ``partition``."""
    region = require_text(region, "region", "us-east-1")
    if not REGION_RE.fullmatch(region):
        raise InvalidValue(
            f"The region must look like us-east-1, eu-west-3 or us-gov-west-1 "
            f"(got {echo(region, 30)})."
        )
    if partition is not None:
        check_partition(partition)
        expected = partition_for_region(region)
        if expected != partition:
            raise InvalidValue(
                f"The region {region} belongs to the {expected} partition, not {partition}."
            )
    return region


# AWS adds destination regions to system inference profiles over time: treat these lists as a
# starting point (they were right when written), and prefer GetInferenceProfile when the
# console can call the Bedrock control plane.
_PROFILE_REGIONS: Final[dict[str, tuple[str, ...]]] = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-south-2"),
    "apac": (
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-4",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
    "us-gov": ("us-gov-west-1", "us-gov-east-1"),
    "global": ("*",),
}


def profile_regions(geo: str) -> list[str]:
    """The regions a system inference profile with prefix ``geo`` routes to (``["*"]`` for
    global). Not exhaustive: AWS can add regions."""
    try:
        return list(_PROFILE_REGIONS[geo])
    except KeyError:
        raise InvalidValue(
            f"Unknown inference profile geography {echo(str(geo), 20)}: "
            f"expected one of {', '.join(GEOS)}."
        ) from None
