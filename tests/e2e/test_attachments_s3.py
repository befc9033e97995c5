"""The API configured for an S3-compatible store (``FIELDFLOW_S3_*``), against moto's S3
server run as a subprocess: uploads land in the bucket, not on local disk, and come back
byte-identical."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from tests.e2e.conftest import REPO, Stack, stack_env, stack_home
from tests.e2e.test_api_world import make_order, make_world
from tests.e2e.test_attachments import photo, post, s3_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e
BUCKET = "fieldflow-api-test"


@pytest.fixture(scope="module")
def s3_stack(s3_server: str) -> Iterator[tuple[Stack, str]]:  # noqa: F811
    boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test"
                 ).create_bucket(Bucket=BUCKET)
    home = stack_home()
    env = stack_env(home, FIELDFLOW_S3_BUCKET=BUCKET, FIELDFLOW_S3_ENDPOINT_URL=s3_server,
                    FIELDFLOW_S3_ACCESS_KEY="test", FIELDFLOW_S3_SECRET_KEY="test")

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stack.cli", *args], env=env, cwd=REPO,
                              capture_output=True, text=True, timeout=300)

    up = cli("up", "--detach")
    if up.returncode != 0:
        pytest.fail(f"fieldflow up failed: {up.stderr}")
    try:
        yield Stack(home, env, json.loads(cli("status", "--json").stdout)), s3_server
    finally:
        cli("down")
        shutil.rmtree(home, ignore_errors=True)


def test_uploads_go_to_the_bucket(s3_stack: tuple[Stack, str]) -> None:
    stack, endpoint = s3_stack
    w = make_world(stack, engineers=1)
    jpeg = photo(size=(800, 600), colour=(5, 150, 40))
    with stack.api() as api:
        order = make_order(api, w)["id"]
        resp = post(api, order, jpeg, "photo")
        assert resp.status_code == 201, resp.text
        att = resp.json()
        got = api.get(f"/api/v1/attachments/{att['id']}")
        assert got.status_code == 200 and got.content == jpeg
        assert api.get(att["thumbnail_url"]).content.startswith(b"\xff\xd8")
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                      aws_access_key_id="test", aws_secret_access_key="test")
    sha = hashlib.sha256(jpeg).hexdigest()
    obj = s3.get_object(Bucket=BUCKET, Key=f"attachments/{sha[:2]}/{sha}")
    assert obj["Body"].read() == jpeg and obj["ContentType"] == "image/jpeg"
    local = stack.home / "attachments"
    assert not local.exists() or not any(local.rglob("*"))
