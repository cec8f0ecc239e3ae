/**
 * Mnemosyne's environment, straight from the tables of mnemosyne-deployment.md §4:
 * every variable, and the services that need it. The compose template gives each
 * service only its own variables; the `.env` holds the values.
 */
export type MnemosyneService = "app" | "mcp" | "worker";

export interface EnvVarSpec {
  readonly name: string;
  readonly services: readonly MnemosyneService[];
  /** Table of the seed the variable comes from. */
  readonly section: string;
  /** Holds a secret (or embeds one, like a URL with a password). */
  readonly secret?: boolean;
}

const all: readonly MnemosyneService[] = ["app", "mcp", "worker"];

export const MNEMOSYNE_ENV: readonly EnvVarSpec[] = [
  // Django core — app, mcp, worker
  { name: "SECRET_KEY", services: all, section: "Django core", secret: true },
  { name: "DEBUG", services: all, section: "Django core" },
  { name: "TIME_ZONE", services: all, section: "Django core" },
  { name: "LANGUAGE_CODE", services: all, section: "Django core" },
  // HTTP surface — app (CSRF), app + mcp (ALLOWED_HOSTS)
  { name: "ALLOWED_HOSTS", services: ["app", "mcp"], section: "HTTP surface" },
  { name: "CSRF_TRUSTED_ORIGINS", services: ["app"], section: "HTTP surface" },
  // PostgreSQL — app, mcp, worker
  { name: "APP_DB_NAME", services: all, section: "PostgreSQL" },
  { name: "APP_DB_USER", services: all, section: "PostgreSQL" },
  { name: "APP_DB_PASSWORD", services: all, section: "PostgreSQL", secret: true },
  { name: "DB_HOST", services: all, section: "PostgreSQL" },
  { name: "DB_PORT", services: all, section: "PostgreSQL" },
  // Neo4j — app, mcp, worker
  { name: "NEOMODEL_NEO4J_BOLT_URL", services: all, section: "Neo4j", secret: true },
  // Memcached — app, mcp, worker
  { name: "KVDB_LOCATION", services: all, section: "Memcached" },
  { name: "KVDB_PREFIX", services: all, section: "Memcached" },
  // S3 / MinIO (Mnemosyne bucket) — app, mcp, worker
  { name: "USE_LOCAL_STORAGE", services: all, section: "S3 / MinIO" },
  { name: "AWS_ACCESS_KEY_ID", services: all, section: "S3 / MinIO", secret: true },
  { name: "AWS_SECRET_ACCESS_KEY", services: all, section: "S3 / MinIO", secret: true },
  { name: "AWS_STORAGE_BUCKET_NAME", services: all, section: "S3 / MinIO" },
  { name: "AWS_S3_ENDPOINT_URL", services: all, section: "S3 / MinIO" },
  { name: "AWS_S3_USE_SSL", services: all, section: "S3 / MinIO" },
  { name: "AWS_S3_VERIFY", services: all, section: "S3 / MinIO" },
  { name: "AWS_S3_REGION_NAME", services: all, section: "S3 / MinIO" },
  // Daedalus S3 (cross-bucket reads) — worker only
  { name: "DAEDALUS_S3_ENDPOINT_URL", services: ["worker"], section: "Daedalus S3" },
  { name: "DAEDALUS_S3_ACCESS_KEY_ID", services: ["worker"], section: "Daedalus S3", secret: true },
  { name: "DAEDALUS_S3_SECRET_ACCESS_KEY", services: ["worker"], section: "Daedalus S3", secret: true },
  { name: "DAEDALUS_S3_BUCKET_NAME", services: ["worker"], section: "Daedalus S3" },
  { name: "DAEDALUS_S3_REGION_NAME", services: ["worker"], section: "Daedalus S3" },
  { name: "DAEDALUS_S3_USE_SSL", services: ["worker"], section: "Daedalus S3" },
  { name: "DAEDALUS_S3_VERIFY", services: ["worker"], section: "Daedalus S3" },
  // Celery / RabbitMQ — app (producer), worker (consumer)
  { name: "CELERY_BROKER_URL", services: ["app", "worker"], section: "Celery / RabbitMQ", secret: true },
  { name: "CELERY_RESULT_BACKEND", services: ["app", "worker"], section: "Celery / RabbitMQ" },
  { name: "CELERY_TASK_ALWAYS_EAGER", services: ["app", "worker"], section: "Celery / RabbitMQ" },
  // Worker tuning — worker only
  { name: "CELERY_QUEUES", services: ["worker"], section: "Worker tuning" },
  { name: "CELERY_CONCURRENCY", services: ["worker"], section: "Worker tuning" },
  // MCP server — mcp only
  { name: "MCP_REQUIRE_AUTH", services: ["mcp"], section: "MCP server" },
  // LLM API encryption — app, worker
  { name: "LLM_API_SECRETS_ENCRYPTION_KEY", services: ["app", "worker"], section: "LLM API encryption", secret: true },
  // Email — app only
  { name: "EMAIL_HOST", services: ["app"], section: "Email" },
  { name: "EMAIL_PORT", services: ["app"], section: "Email" },
  { name: "EMAIL_USE_TLS", services: ["app"], section: "Email" },
  // Embedding pipeline — worker only
  { name: "EMBEDDING_BATCH_SIZE", services: ["worker"], section: "Embedding pipeline" },
  { name: "EMBEDDING_TIMEOUT", services: ["worker"], section: "Embedding pipeline" },
  // Search & re-ranker — app, mcp
  { name: "SEARCH_VECTOR_TOP_K", services: ["app", "mcp"], section: "Search & re-ranker" },
  { name: "SEARCH_FULLTEXT_TOP_K", services: ["app", "mcp"], section: "Search & re-ranker" },
  { name: "SEARCH_GRAPH_MAX_DEPTH", services: ["app", "mcp"], section: "Search & re-ranker" },
  { name: "SEARCH_RRF_K", services: ["app", "mcp"], section: "Search & re-ranker" },
  { name: "SEARCH_DEFAULT_LIMIT", services: ["app", "mcp"], section: "Search & re-ranker" },
  { name: "RERANKER_MAX_CANDIDATES", services: ["app", "mcp"], section: "Search & re-ranker" },
  { name: "RERANKER_TIMEOUT", services: ["app", "mcp"], section: "Search & re-ranker" },
  // Logging — app, mcp, worker
  { name: "LOGGING_LEVEL", services: all, section: "Logging" },
  { name: "DJANGO_LOGGING_LEVEL", services: all, section: "Logging" },
  { name: "CELERY_LOGGING_LEVEL", services: all, section: "Logging" },
];

/** Variable names a service needs, in table order. */
export function envFor(service: MnemosyneService): string[] {
  return MNEMOSYNE_ENV.filter((v) => v.services.includes(service)).map((v) => v.name);
}
