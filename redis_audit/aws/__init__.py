"""AWS managed Redis (ElastiCache, ElastiCache Serverless, MemoryDB): the control plane, read with boto3.

- clients.py   one boto3 session per run; every client has timeouts and bounded retries; API errors
               become facts (an AccessDenied names the IAM action to grant)
- resource.py  which managed deployment is audited (--aws-replication-group, ...)
- endpoint.py  the data-plane endpoint discovered from the control plane
- secrets.py   the data-plane password from Secrets Manager (the only place a secret value is read)
- collector.py the DeploymentCollector that stores the control plane as `aws.*` deployment facts
- upload.py    storing the written report in S3 with SSE-KMS
"""
