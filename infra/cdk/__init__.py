"""The CDK app: a data stack and an app stack per stage (``python -m infra.cdk.app --stage dev``)."""
