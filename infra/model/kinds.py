"""What kind of service a catalog entry is, decided from facts the catalog cannot talk away.

Exposure is a property of the kind (issue 12): a data store is never public nor routed by the
edge, and `admin` exposure (edge route behind basic auth + IP allowlist) is only for the admin
UIs Rampart knows. A catalog entry's `exposure`, `route` or `networks` cannot change its kind.

- **Data store** (databases, caches, brokers, object storage, search, event stores): group
  `infra` (the catalog's data stores and brokers, DESIGN §1), *or* an image whose repository
  name is a known data store (`DATA_STORE_IMAGES`), whatever group the entry claims. The
  `stateful` flag alone does not make a data store: the edge proxy, Prometheus, Alertmanager
  and Grafana keep state and are routed (as admin UIs) by design. Ports are not used either:
  Alertmanager listens on 9093 like Kafka's client port in this very catalog.
- **Admin UI**: an image whose repository name is one of the admin interfaces DESIGN §1 names:
  the Traefik dashboard, Grafana, Prometheus, Alertmanager (`ADMIN_UI_IMAGES`).

The image name is the last path component of the pinned repository, lower-cased
(`docker.io/library/postgres` -> `postgres`, `quay.io/minio/minio` -> `minio`).
"""

from __future__ import annotations

from infra.model.types import Group, Image

DATA_STORE_IMAGES = frozenset({
    # relational and their poolers
    "postgres", "postgresql", "postgis", "timescaledb", "timescaledb-ha", "pgbouncer",
    "pgpool", "pgpool2", "cockroach", "yugabyte", "mysql", "mysql-server", "mariadb",
    "percona", "percona-server", "mssql-server", "oracle-free", "tidb",
    # document, wide-column, graph, time series
    "mongo", "mongodb", "mongodb-community-server", "couchdb", "couchbase", "cassandra",
    "scylla", "neo4j", "arangodb", "rethinkdb", "influxdb", "questdb", "clickhouse",
    "clickhouse-server", "etcd",
    # caches
    "redis", "redis-stack", "redis-stack-server", "valkey", "keydb", "dragonfly", "memcached",
    # brokers and event stores
    "kafka", "cp-kafka", "cp-server", "redpanda", "zookeeper", "cp-zookeeper", "rabbitmq",
    "activemq", "activemq-artemis", "artemis", "nats", "pulsar", "emqx", "mosquitto",
    "eclipse-mosquitto", "eventstore", "eventstoredb", "kurrentdb",
    # object storage and search
    "minio", "seaweedfs", "garage", "elasticsearch", "opensearch", "solr", "meilisearch",
    "typesense",
})

# image name -> the admin UI it serves
ADMIN_UI_IMAGES = {
    "traefik": "the Traefik dashboard",
    "grafana": "Grafana",
    "grafana-oss": "Grafana",
    "grafana-enterprise": "Grafana",
    "prometheus": "Prometheus",
    "alertmanager": "Alertmanager",
}


def image_name(image: Image) -> str:
    return image.repository.rsplit("/", 1)[-1].lower()


def data_store_reason(group: Group, image: Image) -> str | None:
    """Why the service is a data store (for messages), or None when it is not one."""
    name = image_name(image)
    if name in DATA_STORE_IMAGES:
        return f"it runs the data store image '{name}'"
    if group is Group.INFRA:
        return "it is in group 'infra' (data stores and brokers)"
    return None


def admin_ui(image: Image) -> str | None:
    """The admin UI the image serves, or None."""
    return ADMIN_UI_IMAGES.get(image_name(image))
