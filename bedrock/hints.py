"""What to do about a failed test: a concrete next step for each AWS error we know."""

from __future__ import annotations

import re
from dataclasses import dataclass

_REGION_IN_HOST = re.compile(r"\.([a-z]{2}(?:-gov)?-[a-z]+-\d)\.")


@dataclass(frozen=True)
class Context:
    principal_arn: str | None
    external_id: str
    sts_endpoint: str
    endpoint: str
    profile: bool = False  # the model is called through a cross-region inference profile


# Read by whoever ran the test in a browser: no setting's name, which only the operator can change.
ENDPOINT_NOT_ALLOWED = (
    "The console only calls AWS endpoints over https, and the origins its operator allowed."
)
RESPONSE_PATH = "Pick the text in the raw response below to set the Response path to it."


def _region(url: str) -> str | None:
    m = _REGION_IN_HOST.search(url + ".")
    return m.group(1) if m else None


def for_sts(code: str, message: str, ctx: Context) -> str:
    principal = ctx.principal_arn or "unknown (the console has no AWS identity of its own)"
    if code == "AccessDenied":
        return (
            "AWS refused to let the console assume this role. Check the role's trust policy: "
            f"its Principal must be {principal}, its Action sts:AssumeRole, and its "
            f"sts:ExternalId condition must equal the External ID shown here ({ctx.external_id}). "
            "Also check that the IAM Role ARN is spelled exactly as in IAM."
        )
    if code in ("InvalidClientTokenId", "SignatureDoesNotMatch", "NoPlatformCredentials"):
        return (
            "The console's own AWS credentials were refused or are missing. Check the credentials "
            "of the console's host (environment, profile or instance role); they are not part "
            "of this form."
        )
    if code == "RegionDisabledException":
        return (
            "STS is not activated in the region of the Amazon STS API endpoint. Activate it in the "
            "IAM console (Account settings), or use the STS endpoint of an active region."
        )
    if code in ("ExpiredToken", "ExpiredTokenException"):
        return "The console's own session token has expired. Refresh the host's AWS credentials."
    return _common(code, "STS", ctx) or f"STS answered {code}. {message}"


def for_invoke(code: str, message: str, ctx: Context) -> str:
    lower = message.lower()
    if code == "ValidationException" and "on-demand throughput" in lower:
        return (
            "This model cannot be invoked on demand by its plain model ID. Use an inference "
            "profile instead: put the inference profile's ID or ARN (for example one starting "
            "with us. or eu.) in Amazon Bedrock ARN, and allow bedrock:InvokeModel on the "
            "profile and on the foundation models it routes to."
        )
    if code == "AccessDeniedException":
        hint = (
            "The role was assumed, but it may not invoke this model. Attach the permission policy "
            "from step 1 (bedrock:InvokeModel on the Amazon Bedrock ARN) to the role, and make "
            "sure model access for this model is granted in the Bedrock console of the "
            "endpoint's region."
        )
        if ctx.profile:
            hint += (
                " An inference profile needs the profile and the foundation model in every "
                "region it routes to (a global profile: the region-less model ARN too), as "
                "step 1's policy lists them; the resource named in the error is the one missing."
            )
        return hint
    if code == "ValidationException" and "model identifier is invalid" in lower:
        return (
            "Bedrock does not know this model ID in the Endpoint's region. A geographic "
            "inference profile (us., eu., apac.…) is called from a region of its geography, "
            "an ARN from its own region: check the Endpoint's region against the Amazon "
            "Bedrock ARN."
        )
    if code == "ResourceNotFoundException":
        return (
            "Bedrock does not know this model in the Endpoint's region. Check the Amazon Bedrock "
            "ARN and that the Endpoint is in the region where the model is offered."
        )
    if code == "ValidationException":
        return (
            "Bedrock rejected the request. Check that the Request JSON matches the model "
            "family's native format (the prefilled body is a valid starting point)."
        )
    if code in ("UnrecognizedClientException", "InvalidSignatureException"):
        return (
            "Bedrock did not accept the temporary credentials. If the Endpoint is a proxy or "
            "VPC endpoint, check that it forwards requests unchanged (headers and body are signed)."
        )
    if code in ("ExpiredTokenException", "ExpiredToken"):
        return (
            "The assumed role's session expired during the test and could not be refreshed. "
            "Run the test again; if it recurs, check the role's maximum session duration."
        )
    if code == "ModelNotReadyException":
        return "The model is not ready yet (it may be loading). Wait a minute and test again."
    if code == "ModelTimeoutException":
        return "The model took too long to answer. Try a smaller max_tokens or test again."
    if code == "ServiceQuotaExceededException":
        return "The account's Bedrock quota for this model is used up. Request a quota increase."
    if code == "ModelStreamErrorException":
        return (
            "The model's stream broke in the middle of the answer; what arrived before is shown. "
            "Test again; if it recurs, try without streaming or a smaller max_tokens."
        )
    if code == "StreamBroken":
        return (
            "The connection closed in the middle of the stream; what arrived before is shown. If "
            "the Endpoint is a proxy, check that it passes streamed answers through unbuffered."
        )
    if code == "ModelErrorException":
        return "The model failed while processing the request. Check the request and try again."
    if code in ("ResponseTooLarge", "InvalidResponse", "NoOutputText"):
        return (
            "The endpoint answered, but not with a model response the console can read. Check "
            "that the Endpoint is the bedrock-runtime endpoint and that the Request JSON matches "
            "the model family."
        )
    return _common(code, "InvokeModel", ctx) or f"InvokeModel answered {code}. {message}"


def _common(code: str, step: str, ctx: Context) -> str | None:
    if code in ("Throttling", "ThrottlingException", "TooManyRequestsException"):
        return (
            f"AWS throttled {step} and the retries ran out. Wait a moment and test again; "
            "if it recurs, request a higher quota."
        )
    if code in ("ConnectTimeout", "ReadTimeout", "ResponseTimeout", "EndpointUnreachable"):
        where = ctx.sts_endpoint if step == "STS" else ctx.endpoint
        hint = (
            f"The console could not reach {where} in time. Check that the host can reach it "
            "(proxy, firewall, VPC endpoint policy and security groups)."
        )
        sts_region, bedrock_region = _region(ctx.sts_endpoint), _region(ctx.endpoint)
        if step == "STS" and sts_region and bedrock_region and sts_region != bedrock_region:
            hint += (
                f" The STS endpoint is in {sts_region} but Bedrock in {bedrock_region}: an STS "
                "endpoint in another region than the caller's VPC is a classic cause of "
                f"timeouts; try https://sts.{bedrock_region}.amazonaws.com."
            )
        return hint
    if code in ("InternalServerException", "ServiceUnavailableException", "InternalFailure"):
        return f"AWS had a temporary problem in {step}. Test again in a moment."
    return None
