"""``make deploy-test``: the topology docs/deployment.md recommends, built on 127.0.0.1 from
Debian's packages and the guide's own configuration blocks, then proven under load: a killed
replica, shared state across replicas, reports from a streaming replica, a restore drill."""
