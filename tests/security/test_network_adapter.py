"""The one adapter over botocore/urllib3 private attributes (bedrock.network.pin) still holds.

botocore has no public hook for its connection classes, so the resolved-address guard plugs
into private attributes. If an upgrade of botocore or urllib3 moves them, this test fails and
says what moved, before the guard could silently stop guarding.
"""

import botocore
import pytest
import urllib3

from bedrock import client, network
from tests.conftest import SANDBOX_URL


@pytest.mark.parametrize("service", ["sts", "bedrock-runtime"])
def test_every_client_opens_only_pinned_connections(service):
    made = client.get_client(service, SANDBOX_URL, None)
    problem = network.adapter_problem(made)
    assert problem is None, (
        f"The resolved-address guard no longer plugs into botocore {botocore.__version__} / "
        f"urllib3 {urllib3.__version__}: {problem}. Update bedrock/network.py's adapter."
    )


def test_it_notices_a_client_that_is_not_pinned():
    import boto3

    plain = boto3.session.Session().client("sts", region_name="us-east-1", endpoint_url=SANDBOX_URL)
    assert "pool classes" in (network.adapter_problem(plain) or "")
