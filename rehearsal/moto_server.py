"""Run moto's server with three fixes that the rehearsal of a CDK deploy needs.

moto 5.2.5 differs from AWS in four ways that matter here, and this entry point patches
each before it starts the server:

- SageMaker endpoint configs accept only the instance types of moto's own list, which
  predates the ml.g5, g6, g6e, p4d and p5 families. The patch checks botocore's
  ``ProductionVariantInstanceType`` enum instead, the list SageMaker's API validates against.
- CloudFormation ignores ``EndpointName`` on ``AWS::SageMaker::Endpoint`` and makes up a
  name. The patch makes moto read the name property, as CloudFormation does.
- A stack created through a change set, as the CDK CLI creates every stack, has no
  outputs, because moto builds the outputs only when a stack is created directly. The
  patch builds them after a change set is applied.
- CloudFormation passes the ``Tags`` of ``AWS::KMS::Key`` (``Key``/``Value``, the
  template's form) to KMS's CreateKey, which expects ``TagKey``/``TagValue``, and fails
  with a KeyError on the first tagged key. The patch renames the two fields first.

Usage: ``python -m rehearsal.moto_server --port PORT`` (binds to 127.0.0.1 only).
"""

from __future__ import annotations

import argparse
from typing import Any

from moto.cloudformation.models import ChangeSet
from moto.cloudformation.parsing import OutputMap
from moto.kms.models import Key
from moto.sagemaker.exceptions import ValidationError
from moto.sagemaker.models import FakeEndpoint, FakeEndpointConfig
from moto.server import main as moto_main

from deploy_config.validation import sagemaker_hosting_instance_types


def validate_instance_type(self: FakeEndpointConfig, instance_type: str) -> None:
    if instance_type not in sagemaker_hosting_instance_types():
        raise ValidationError(
            message=f"Value '{instance_type}' at 'instanceType' failed to satisfy constraint: "
            "Member must satisfy enum value set of ProductionVariantInstanceType"
        )


def endpoint_name_property() -> str:
    return "EndpointName"


_apply_change_set = ChangeSet.apply


def apply_change_set_with_outputs(self: Any) -> None:
    _apply_change_set(self)
    self.stack.output_map = OutputMap(
        self.stack.resource_map, self.template_dict, self.stack.stack_id
    )


_create_key_from_cloudformation = Key.create_from_cloudformation_json


def create_key_with_template_tags(
    resource_name: str, cloudformation_json: Any, account_id: str, region_name: str, **kwargs: Any
) -> Key:
    properties = cloudformation_json.get("Properties", {})
    tags = [{"TagKey": tag["Key"], "TagValue": tag["Value"]} for tag in properties.get("Tags", [])]
    renamed = {**cloudformation_json, "Properties": {**properties, "Tags": tags}}
    key: Key = _create_key_from_cloudformation(
        resource_name, renamed, account_id, region_name, **kwargs
    )
    return key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="TCP port on 127.0.0.1")
    arguments = parser.parse_args()
    FakeEndpointConfig.validate_instance_type = validate_instance_type  # type: ignore[method-assign]
    FakeEndpoint.cloudformation_name_type = staticmethod(endpoint_name_property)  # type: ignore[method-assign]
    ChangeSet.apply = apply_change_set_with_outputs  # type: ignore[method-assign]
    Key.create_from_cloudformation_json = staticmethod(create_key_with_template_tags)  # type: ignore[method-assign]
    moto_main(["-H", "127.0.0.1", "-p", str(arguments.port)])


if __name__ == "__main__":
    main()
