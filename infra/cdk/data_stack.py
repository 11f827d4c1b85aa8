"""The data stack of a stage: everything with state, or shared by every function, created once per stage.

Tables, bus, rules and queues are generated from ``infra.resources.define`` (the same objects the local stack
provisions), with what only AWS has added here: a customer-managed KMS key for tables, queues, secrets, the alarm
topic and the audit logs; point-in-time recovery; a 7-day archive on the bus; a dead-letter queue and a retry
policy on every rule target; the secrets; the dependency layer; the API keys; the alarms, dashboard and topic
(``infra.cdk.observability``); and what on-call's dead-letter tool (``switchboard dlq``) needs: the bucket a purge
archives to, the operators' audit log group and the managed policy ``switchboard-<stage>-on-call-dlq``.

Everything that holds data is ``RetainExceptOnCreate`` (``RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE``): kept when
the stack is deleted or the resource replaced, but removed when the stack's *first* create fails, so that a retry
is not blocked by the fixed names a failed attempt left behind.

L1 (``Cfn*``) resources on purpose: the L2 grants write wildcard actions (``kms:GenerateDataKey*``) into key and
queue policies, and every statement here is meant to be read and checked (``tests/infra/test_iam.py``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_apigateway as apigateway
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from datalayer.settings import dlq_archive_bucket_name
from datalayer.tables import Table
from infra.cdk.config import AUDIT_LOG_RETENTION_DAYS, DLQ_ARCHIVE_RETENTION_DAYS, StageConfig, api_key_output
from infra.cdk.observability import Observability
from infra.cdk.permissions import on_call_dlq_statements
from infra.cdk.plane import QUEUE_ATTRIBUTES, SECRETS, Arn, DataPlane, stage_settings
from infra.resources import (
    ARCHIVE_RETENTION_DAYS,
    Queue,
    Stack,
    create_table_request,
    define,
    queue_policy,
    rule_target,
)

RETAINED = cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE

KEY_ADMIN_ACTIONS = (
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:DeleteAlias", "kms:DescribeKey",
    "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:RetireGrant", "kms:RevokeGrant", "kms:ScheduleKeyDeletion",
    "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias", "kms:UpdateKeyDescription",
    "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom", "kms:ReEncryptTo",
)
"""The account may administer the key and lets IAM policies grant its use: the usual root statement, with every
action written out instead of ``kms:*``."""


class DataStack(cdk.Stack):
    """Exposes ``plane`` (names and ARNs for the app stack), ``api_key_ids``, ``audit_log_group`` (API access logs)
    and ``topic``."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StageConfig, layer_dir: Path,
                 **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        settings = stage_settings(config.name)
        definitions = define(settings)
        self.key = self._key()
        tables = {table.id: self._table(table) for table in definitions.tables}
        bus = events.CfnEventBus(self, "EventBus", name=definitions.event_bus)
        archive = events.CfnArchive(self, "EventArchive", source_arn=bus.attr_arn,
                                    retention_days=ARCHIVE_RETENTION_DAYS,
                                    description=f"Every event on {definitions.event_bus}, for replay")
        archive.apply_removal_policy(RETAINED)
        queues: dict[str, sqs.CfnQueue] = {}
        for queue in definitions.queues:
            dead_letter = queues[_attribute(definitions, queue.dead_letter_queue)] if queue.dead_letter_queue else None
            queues[_attribute(definitions, queue.name)] = self._queue(queue, dead_letter)
        self._rules(definitions, bus, queues)
        secrets = {secret: self._secret(secret) for secret in SECRETS}
        layer = lambda_.LayerVersion(
            self, "Dependencies", code=lambda_.Code.from_asset(str(layer_dir)),
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_11],
            compatible_architectures=[lambda_.Architecture.X86_64],
            layer_version_name=f"switchboard-{config.name}-dependencies",
            description="Switchboard's third-party dependencies (python/) and models (models/)",
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.api_key_ids = {key_name: self._api_key(key_name) for key_name in config.api_keys}
        self.audit_log_group = logs.CfnLogGroup(self, "ApiAccessLogs", retention_in_days=AUDIT_LOG_RETENTION_DAYS,
                                                kms_key_id=self.key.attr_arn)
        self.audit_log_group.apply_removal_policy(RETAINED)
        self._api_gateway_logging()
        self.topic = sns.CfnTopic(self, "AlarmTopic", kms_master_key_id=self.key.attr_arn,
                                  display_name=f"Switchboard {config.name} alarms")
        for number, email in enumerate(config.alarm_emails):
            sns.CfnSubscription(self, f"AlarmEmail{number}", topic_arn=self.topic.ref, protocol="email",
                                endpoint=email)

        self.plane = DataPlane(
            stage=config.name,
            partition=cdk.Aws.PARTITION,
            region=cdk.Aws.REGION,
            account=cdk.Aws.ACCOUNT_ID,
            tables={table.id: Arn(table.name, tables[table.id].get_att("Arn").to_string())
                    for table in definitions.tables},
            event_bus=Arn(definitions.event_bus, bus.attr_arn),
            queues={attribute: Arn(getattr(definitions, attribute).name, queues[attribute].attr_arn)
                    for attribute in QUEUE_ATTRIBUTES},
            key_arn=self.key.attr_arn,
            secrets={secret: resource.ref for secret, resource in secrets.items()},
            layer_arn=layer.layer_version_arn,
        )
        for output_key, value in self.plane.outputs().items():
            cdk.CfnOutput(self, output_key, value=value)
        cdk.CfnOutput(self, "AuditLogGroupArn", value=self.audit_log_group.attr_arn)
        cdk.CfnOutput(self, "AlarmTopicArn", value=self.topic.ref)
        self._on_call(definitions, settings.audit_log_group)
        Observability(self, "Observability", config=config, definitions=definitions, topic_arn=self.topic.ref)

    # -- resources ----------------------------------------------------------------------------------------------

    def _on_call(self, definitions: Stack, audit_log_group: str) -> None:
        """The dead-letter tool's archive bucket, the operators' audit log group and on-call's managed policy."""
        stage = self.config.name
        bucket = s3.CfnBucket(
            self, "DlqArchiveBucket",
            bucket_name=dlq_archive_bucket_name(stage, cdk.Aws.ACCOUNT_ID),
            bucket_encryption=s3.CfnBucket.BucketEncryptionProperty(server_side_encryption_configuration=[
                s3.CfnBucket.ServerSideEncryptionRuleProperty(
                    bucket_key_enabled=True,
                    server_side_encryption_by_default=s3.CfnBucket.ServerSideEncryptionByDefaultProperty(
                        sse_algorithm="aws:kms", kms_master_key_id=self.key.attr_arn))]),
            public_access_block_configuration=s3.CfnBucket.PublicAccessBlockConfigurationProperty(
                block_public_acls=True, block_public_policy=True, ignore_public_acls=True,
                restrict_public_buckets=True),
            ownership_controls=s3.CfnBucket.OwnershipControlsProperty(
                rules=[s3.CfnBucket.OwnershipControlsRuleProperty(object_ownership="BucketOwnerEnforced")]),
            lifecycle_configuration=s3.CfnBucket.LifecycleConfigurationProperty(rules=[
                s3.CfnBucket.RuleProperty(
                    id="ExpireArchivedDeadLetters", status="Enabled", expiration_in_days=DLQ_ARCHIVE_RETENTION_DAYS,
                    abort_incomplete_multipart_upload=s3.CfnBucket.AbortIncompleteMultipartUploadProperty(
                        days_after_initiation=1))]),
        )
        bucket.apply_removal_policy(RETAINED)
        s3.CfnBucketPolicy(self, "DlqArchiveBucketPolicy", bucket=bucket.ref, policy_document={
            "Version": "2012-10-17",
            "Statement": [{"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
                           "Resource": [bucket.attr_arn, f"{bucket.attr_arn}/*"],
                           "Condition": {"Bool": {"aws:SecureTransport": "false"}}}],
        })
        audit = logs.CfnLogGroup(self, "OperatorAuditLogs", log_group_name=audit_log_group,
                                 retention_in_days=AUDIT_LOG_RETENTION_DAYS, kms_key_id=self.key.attr_arn)
        audit.apply_removal_policy(RETAINED)
        policy = iam.CfnManagedPolicy(
            self, "OnCallDlqPolicy", managed_policy_name=f"switchboard-{stage}-on-call-dlq",
            description=f"Switchboard {stage}: what switchboard dlq needs (attach to on-call roles)",
            policy_document={"Version": "2012-10-17", "Statement": on_call_dlq_statements(
                self.plane, definitions, bucket.attr_arn, audit.attr_arn)},
        )
        cdk.CfnOutput(self, "DlqArchiveBucketName", value=bucket.ref)
        cdk.CfnOutput(self, "OperatorAuditLogGroupName", value=audit.ref)
        cdk.CfnOutput(self, "OnCallDlqPolicyArn", value=policy.ref)

    def _rules(self, definitions: Stack, bus: events.CfnEventBus, queues: dict[str, sqs.CfnQueue]) -> None:
        """Each rule with its target's DLQ and retries; one policy per queue (a second ``AWS::SQS::QueuePolicy`` on
        a queue would replace the first) letting EventBridge send to it for those rules only."""
        deliveries: dict[str, list[dict[str, Any]]] = {}
        for rule in definitions.rules:
            target = _attribute(definitions, rule.target_queue)
            dead_letter = _attribute(definitions, rule.dead_letter_queue)
            cfn_rule = cdk.CfnResource(
                self, _logical(rule.name.removeprefix(f"switchboard-{self.config.name}-"), "Rule"),
                type="AWS::Events::Rule",
                properties={"Name": rule.name, "EventBusName": rule.bus, "EventPattern": dict(rule.event_pattern),
                            "State": "ENABLED",
                            "Targets": [rule_target(rule, queues[target].attr_arn, queues[dead_letter].attr_arn)]},
            )
            cfn_rule.node.add_dependency(bus)
            for attribute in (target, dead_letter):
                [statement] = queue_policy(queues[attribute].attr_arn, cfn_rule.get_att("Arn").to_string())["Statement"]
                deliveries.setdefault(attribute, []).append({**statement, "Sid": f"From{cfn_rule.node.id}"})
        for attribute, statements in deliveries.items():
            sqs.CfnQueuePolicy(self, _logical(attribute, "Policy"), queues=[queues[attribute].ref],
                               policy_document={"Version": "2012-10-17", "Statement": statements})

    def _secret(self, secret: str) -> secretsmanager.CfnSecret:
        """Generated name (a deleted secret's name stays taken for days); a random value until someone sets it."""
        resource = secretsmanager.CfnSecret(
            self, _logical(secret, "Secret"), kms_key_id=self.key.attr_arn,
            description=f"Switchboard {self.config.name}: {secret.replace('_', ' ')} (set its value after deploy)",
            generate_secret_string=secretsmanager.CfnSecret.GenerateSecretStringProperty(
                password_length=32, exclude_punctuation=True),
        )
        resource.apply_removal_policy(RETAINED)
        return resource

    def _api_key(self, key_name: str) -> str:
        """An API key of the ticketing system (API Gateway generates the value); returns its id."""
        api_key = apigateway.CfnApiKey(self, _logical(key_name, "ApiKey"), enabled=True,
                                       name=f"switchboard-{self.config.name}-{key_name}",
                                       description="The ticketing system's key (value generated by API Gateway)")
        api_key.apply_removal_policy(RETAINED)
        cdk.CfnOutput(self, api_key_output(key_name), value=api_key.ref)
        return str(api_key.ref)

    def _key(self) -> kms.CfnKey:
        account_root = f"arn:{cdk.Aws.PARTITION}:iam::{cdk.Aws.ACCOUNT_ID}:root"
        same_account = {"StringEquals": {"aws:SourceAccount": cdk.Aws.ACCOUNT_ID}}
        statements: list[dict[str, Any]] = [
            {"Sid": "AccountAdministersAndDelegatesToIam", "Effect": "Allow", "Principal": {"AWS": account_root},
             "Action": list(KEY_ADMIN_ACTIONS), "Resource": "*"},
            {"Sid": "EventBridgeDeliversToEncryptedQueues", "Effect": "Allow",
             "Principal": {"Service": "events.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*", "Condition": same_account},
            {"Sid": "AlarmsPublishToEncryptedTopic", "Effect": "Allow",
             "Principal": {"Service": "cloudwatch.amazonaws.com"},
             "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*", "Condition": same_account},
            {"Sid": "LogsEncryptAuditLogs", "Effect": "Allow",
             "Principal": {"Service": f"logs.{cdk.Aws.REGION}.amazonaws.com"},
             "Action": ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo",
                        "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"],
             "Resource": "*",
             "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn":
                                       f"arn:{cdk.Aws.PARTITION}:logs:{cdk.Aws.REGION}:{cdk.Aws.ACCOUNT_ID}:*"}}},
        ]
        key = kms.CfnKey(self, "DataKey", enable_key_rotation=True,
                         description=f"Switchboard {self.config.name}: tables, queues, secrets, alarms, audit logs",
                         key_policy={"Version": "2012-10-17", "Statement": statements})
        key.apply_removal_policy(RETAINED)
        kms.CfnAlias(self, "DataKeyAlias", alias_name=f"alias/switchboard-{self.config.name}-data",
                     target_key_id=key.ref)
        return key

    def _table(self, table: Table) -> cdk.CfnResource:
        """``create_table_request`` is CloudFormation's shape too (BillingMode, KeySchema, indexes): used as is."""
        properties = {
            **create_table_request(table),
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": self.key.attr_arn},
        }
        if table.ttl_attribute:
            properties["TimeToLiveSpecification"] = {"AttributeName": table.ttl_attribute, "Enabled": True}
        resource = cdk.CfnResource(self, _logical(table.id, "Table"), type="AWS::DynamoDB::Table",
                                   properties=properties)
        resource.apply_removal_policy(RETAINED)
        return resource

    def _queue(self, queue: Queue, dead_letter: sqs.CfnQueue | None) -> sqs.CfnQueue:
        resource = sqs.CfnQueue(
            self, _logical(queue.name.removeprefix(f"switchboard-{self.config.name}-"), "Queue"),
            queue_name=queue.name,
            visibility_timeout=queue.visibility_timeout_s,
            message_retention_period=queue.retention_s,
            kms_master_key_id=self.key.attr_arn,
            kms_data_key_reuse_period_seconds=300,
            redrive_policy=(
                {"deadLetterTargetArn": dead_letter.attr_arn, "maxReceiveCount": queue.max_receive_count}
                if dead_letter is not None else None),
        )
        resource.apply_removal_policy(RETAINED)
        return resource

    def _api_gateway_logging(self) -> None:
        """API Gateway writes access logs only once the account names a role for it (one per account and region)."""
        role = iam.CfnRole(
            self, "ApiGatewayLoggingRole",
            assume_role_policy_document={"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "apigateway.amazonaws.com"}, "Action": "sts:AssumeRole"}]},
            managed_policy_arns=[
                f"arn:{cdk.Aws.PARTITION}:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs"],
        )
        apigateway.CfnAccount(self, "ApiGatewayAccount", cloud_watch_role_arn=role.attr_arn)


def _attribute(definitions: Stack, queue_name: str) -> str:
    """The ``Stack`` attribute holding the queue called ``queue_name``."""
    for attribute in QUEUE_ATTRIBUTES:
        if getattr(definitions, attribute).name == queue_name:
            return attribute
    raise KeyError(queue_name)


def _logical(identifier: str, suffix: str) -> str:
    """``service_status`` → ``ServiceStatusTable``; ``routing-dlq`` → ``RoutingDlqQueue``."""
    parts = identifier.replace("-", "_").split("_")
    return "".join(part.capitalize() for part in parts if part) + suffix
