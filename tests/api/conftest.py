"""The API's people and keys, and a client whose every answer is checked against the served
OpenAPI schema: the status must be one the operation documents, and the body must validate
against that response's schema ($refs resolved against the schema's components)."""

import json
from dataclasses import dataclass

import jsonschema
import pytest
from django.test import Client
from django.urls import reverse

from members.roles import Role
from rewards.api.keys import api_key_create
from rewards.models import ApiKey

from ..factories import PointsRuleFactory, ShopFactory, StaffFactory

_SPEC: dict = {}


def openapi() -> dict:
    if not _SPEC:
        response = Client().get(reverse("api:openapi-json"))
        assert response.status_code == 200
        _SPEC.update(response.json())
    return _SPEC


def operation(operation_id: str) -> dict:
    for methods in openapi()["paths"].values():
        for op in methods.values():
            if op.get("operationId") == operation_id:
                return op
    raise AssertionError(f"no operation {operation_id} in the OpenAPI schema")


def check_against_schema(operation_id: str, response) -> None:
    documented = operation(operation_id)["responses"]
    assert str(response.status_code) in documented, (
        f"{operation_id} answered {response.status_code}, which its schema does not list: {sorted(documented)}"
    )
    content = documented[str(response.status_code)].get("content", {}).get("application/json")
    assert content is not None, f"{operation_id} {response.status_code}: no JSON body documented"
    schema = {**content["schema"], "components": openapi()["components"]}
    jsonschema.validate(response.json(), schema, cls=jsonschema.Draft202012Validator)


@dataclass
class Api:
    """Calls an operation by its id, with a key, and checks the answer against the schema."""

    client: Client

    def call(self, operation_id: str, key: str | None, *, method=None, data=None, headers=None, **path):
        op_path, op_method = next(
            (p, m) for p, methods in openapi()["paths"].items() for m, o in methods.items()
            if o.get("operationId") == operation_id
        )  # fmt: skip
        url = op_path.format(**path)
        extra = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
        for name, value in (headers or {}).items():
            extra["HTTP_" + name.upper().replace("-", "_")] = value
        method = method or op_method
        if method == "get":
            response = self.client.get(url, data or {}, **extra)
        else:
            body = data if isinstance(data, str | bytes) else json.dumps(data or {})
            response = getattr(self.client, method)(url, body, content_type="application/json", **extra)
        check_against_schema(operation_id, response)
        return response


@pytest.fixture
def api() -> Api:
    return Api(Client(raise_request_exception=True))


@dataclass
class Keys:
    read: str
    counter: str
    admin: str
    revoked: str
    third_shop: str  # a counter key of a shop that is neither of the world's
    other_shop: str  # an admin key of Dave's bakery


@pytest.fixture
def keys(world) -> Keys:
    made = {
        scope: api_key_create(shop=world.shop, name=f"Till {scope}", scope=scope, by=world.alice)[1]
        for scope in ApiKey.Scope.values
    }
    revoked, revoked_secret = api_key_create(shop=world.shop, name="Old till", scope="admin", by=world.alice)
    revoked.revoked_at = revoked.created_at
    revoked.save(update_fields=["revoked_at"])
    third = ShopFactory(name="Third Tea House")
    third_owner = StaffFactory(shop=third, role=Role.OWNER).user
    third_secret = api_key_create(shop=third, name="Their till", scope="counter", by=third_owner)[1]
    dave_secret = api_key_create(shop=world.other_shop, name="Dave's till", scope="admin", by=world.dave)[1]
    return Keys(made["read"], made["counter"], made["admin"], revoked_secret, third_secret, dave_secret)


@pytest.fixture
def rule(world):
    """Alice's points: the defaults, one point per NT$10 up to NT$10,000 a purchase."""
    return PointsRuleFactory(shop=world.shop)
