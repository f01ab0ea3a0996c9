-- The whole schema, in one place.  Applied with CREATE ... IF NOT EXISTS on every start, so a database
-- written by an older version gains new tables; SCHEMA_VERSION in db.py guards against newer ones.

CREATE TABLE IF NOT EXISTS schema_version (
    version     INTEGER NOT NULL,
    applied_at  REAL NOT NULL
);

-- Small key/value facts: the emulated clock, id sequences.
CREATE TABLE IF NOT EXISTS meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
);

-- One row per (api key, workspace) seen.  The key itself is never stored, only its hash and a hint.
CREATE TABLE IF NOT EXISTS tenants (
    id          TEXT PRIMARY KEY,
    key_hint    TEXT NOT NULL,
    workspace   TEXT,
    account_id  TEXT NOT NULL,
    created_at  REAL NOT NULL
);

CREATE TABLE IF NOT EXISTS files (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    file_id      TEXT NOT NULL UNIQUE,
    tenant       TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    purpose      TEXT NOT NULL,
    size         INTEGER NOT NULL,
    md5          TEXT NOT NULL,
    kind         TEXT,              -- sft | dpo | image_sft | NULL (not a fine-tune dataset)
    rows         INTEGER NOT NULL DEFAULT 0,
    tokens       INTEGER NOT NULL DEFAULT 0,
    row_tokens   BLOB,              -- array('I') of estimated tokens per row
    samples      TEXT,              -- JSON [[prompt, answer], ...] for a fine-tuned model's style
    blob         TEXT NOT NULL,     -- path of the content, relative to the data dir
    created_at   REAL NOT NULL
);
-- A page of a tenant's files is read from this index alone: the rows keep their big columns (row_tokens,
-- samples) before blob and created_at, so reading those from the table walks each row's overflow pages.
CREATE INDEX IF NOT EXISTS files_listing ON files
    (tenant, id DESC, file_id, name, description, purpose, size, md5, kind, rows, tokens, blob, created_at);
DROP INDEX IF EXISTS files_by_tenant;

CREATE TABLE IF NOT EXISTS fine_tunes (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id        TEXT NOT NULL UNIQUE,
    tenant        TEXT NOT NULL,
    status        TEXT NOT NULL,
    model         TEXT NOT NULL,
    base_model    TEXT NOT NULL,
    training_type TEXT NOT NULL,
    request       TEXT NOT NULL,    -- JSON: the fields echoed back as sent
    plan          TEXT NOT NULL,    -- JSON: training plan, effective hyper-parameters, failure
    memory        TEXT,             -- JSON: training samples the fine-tuned model answers from
    output_model  TEXT NOT NULL,
    created_at    REAL NOT NULL,
    queued_at     REAL,
    started_at    REAL,
    cancel_at     REAL,
    ended_at      REAL,
    code          TEXT,
    message       TEXT,
    events        TEXT,             -- JSON: forced transitions and other extra log lines [[at, level, text]]
    release_at    REAL              -- derived: when the slot holder, RUNNING or CANCELING, lets go; else NULL
);
CREATE INDEX IF NOT EXISTS fine_tunes_by_tenant ON fine_tunes (tenant, seq DESC);
CREATE INDEX IF NOT EXISTS fine_tunes_by_output ON fine_tunes (output_model);
CREATE INDEX IF NOT EXISTS fine_tunes_active ON fine_tunes (tenant, seq)
    WHERE status IN ('PENDING', 'QUEUING', 'RUNNING', 'CANCELING');
-- The queue engine's seeks (fine_tunes/states.py settle): the earliest data checks, the slot, the head of the
-- queue; and the clock's sweep of what fell due, across tenants.
CREATE INDEX IF NOT EXISTS fine_tunes_pending ON fine_tunes (tenant, created_at) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS fine_tunes_pending_due ON fine_tunes (created_at) WHERE status = 'PENDING';
CREATE INDEX IF NOT EXISTS fine_tunes_state ON fine_tunes (tenant, status, seq);
CREATE INDEX IF NOT EXISTS fine_tunes_release ON fine_tunes (release_at) WHERE release_at IS NOT NULL;
-- A job's training samples (JSON [[prompt, answer], ...]), kept beside the row rather than in it: a job's row is
-- rewritten at every transition, and with ~6 KB of samples inline each rewrite copied its overflow pages too.
-- Jobs written before this table keep theirs in fine_tunes.memory.
CREATE TABLE IF NOT EXISTS fine_tune_memory (
    job_id  TEXT PRIMARY KEY,
    tenant  TEXT NOT NULL,
    memory  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS fine_tune_memory_by_tenant ON fine_tune_memory (tenant);

-- One row per deployment until it is gone.  status/ready_capacity/modified_at are the last derived values (lists
-- read them); the truth is the schedule (deploy_at ... deleting_at) plus the emulated clock (deployments/states.py).
CREATE TABLE IF NOT EXISTS deployments (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    deployed_model  TEXT NOT NULL,
    tenant          TEXT NOT NULL,
    model_name      TEXT NOT NULL,
    base_model      TEXT NOT NULL,
    job_id          TEXT,              -- the fine-tune it serves; NULL for a base model
    plan            TEXT NOT NULL,     -- lora | mu | ptu
    status          TEXT NOT NULL,
    base_capacity   INTEGER NOT NULL,
    capacity        INTEGER NOT NULL,
    ready_capacity  INTEGER NOT NULL,
    charge_type     TEXT NOT NULL,
    creator         TEXT NOT NULL,
    workspace_id    TEXT NOT NULL,
    created_at      REAL NOT NULL,
    modified_at     REAL NOT NULL,
    deploy_at       REAL NOT NULL,
    running_at      REAL NOT NULL,
    ready_base      INTEGER NOT NULL,
    ready_base_at   REAL NOT NULL,
    failed_at       REAL,
    deleting_at     REAL,
    message         TEXT,
    memory          TEXT,              -- JSON [[prompt, answer], ...] copied from the fine-tune: it outlives the job
    UNIQUE (tenant, deployed_model)
);
CREATE INDEX IF NOT EXISTS deployments_by_tenant ON deployments (tenant, seq DESC);
CREATE INDEX IF NOT EXISTS deployments_by_job ON deployments (job_id) WHERE job_id IS NOT NULL;

-- The 2026 create fields of a deployment (a table of its own so that databases of older versions gain it):
-- the suffix it was asked for (NULL: none; a second deployment of one model under the same suffix, or none, is a 409), the MU
-- deploy_spec (JSON: a string such as "MU1" or the object the v2 client sends) and billing_method.
CREATE TABLE IF NOT EXISTS deployment_options (
    seq             INTEGER PRIMARY KEY,   -- deployments.seq
    tenant          TEXT NOT NULL,
    model_name      TEXT NOT NULL,
    suffix          TEXT,
    deploy_spec     TEXT,
    billing_method  TEXT
);
CREATE INDEX IF NOT EXISTS deployment_options_by_model ON deployment_options (tenant, model_name, suffix);

-- Checkpoint exports (GET /fine-tunes/{id}/export/{checkpoint}): the checkpoints themselves derive from the job's
-- plan (fine_tunes/checkpoints.py); an export's status derives from requested_at and the emulated clock.
CREATE TABLE IF NOT EXISTS checkpoint_exports (
    tenant        TEXT NOT NULL,
    job_id        TEXT NOT NULL,
    step          INTEGER NOT NULL,
    display_name  TEXT NOT NULL,        -- the export's model_name query parameter ("for console display")
    model_name    TEXT NOT NULL,        -- the deployable id: {finetuned_output}-c{step}
    requested_at  REAL NOT NULL,
    PRIMARY KEY (tenant, job_id, step)
);
CREATE UNIQUE INDEX IF NOT EXISTS checkpoint_exports_by_display ON checkpoint_exports (tenant, display_name);
CREATE INDEX IF NOT EXISTS checkpoint_exports_by_model ON checkpoint_exports (tenant, model_name);

-- Per-tenant object counts, kept in the same transaction as inserts and deletes, so list totals cost
-- one primary-key read however many objects pile up.
CREATE TABLE IF NOT EXISTS counters (
    tenant  TEXT NOT NULL,
    kind    TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (tenant, kind)
);

-- Temporary media uploaded through the upload policy (GET /api/v1/uploads, the form POST to /_oss/...), named
-- by their oss:// key.  The owner is the account part of the key (dashscope-instant/<account>/...).
CREATE TABLE IF NOT EXISTS oss_objects (
    key           TEXT PRIMARY KEY,
    account       TEXT NOT NULL,
    size          INTEGER NOT NULL,
    md5           TEXT NOT NULL,
    content_type  TEXT,
    blob          TEXT NOT NULL,
    created_at    REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS oss_objects_by_account ON oss_objects (account, created_at);

-- Stored Responses API answers (POST /compatible-mode/v1/responses with store, the default): the response object,
-- and the conversation's items up to this turn's input (GET .../input_items; previous_response_id continues it).
CREATE TABLE IF NOT EXISTS responses (
    id           TEXT PRIMARY KEY,
    tenant       TEXT NOT NULL,
    created_at   REAL NOT NULL,
    body         TEXT NOT NULL,     -- JSON: the response object
    items        TEXT NOT NULL      -- JSON: the input items with their ids, earlier turns first
);
CREATE INDEX IF NOT EXISTS responses_by_tenant ON responses (tenant, created_at);

-- Async tasks (X-DashScope-Async: batch text embedding).  The status is derived from these facts and the clock
-- (emulator/tasks/states.py); outcome is set once the result file is written (results/<task_id>.txt.gz).
CREATE TABLE IF NOT EXISTS tasks (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    task_id      TEXT NOT NULL UNIQUE,
    tenant       TEXT NOT NULL,
    api_key_id   TEXT NOT NULL,
    account_id   TEXT NOT NULL,
    kind         TEXT NOT NULL,
    model        TEXT NOT NULL,
    request      TEXT NOT NULL,    -- JSON: input and parameters as sent
    request_id   TEXT NOT NULL,
    created_at   REAL NOT NULL,
    run_seconds  REAL NOT NULL,
    canceled_at  REAL,
    outcome      TEXT,             -- SUCCEEDED | FAILED, once the result is written
    code         TEXT,
    message      TEXT,
    tokens       INTEGER NOT NULL DEFAULT 0,
    lines        INTEGER NOT NULL DEFAULT 0,
    token        TEXT NOT NULL,    -- the result URL's signature
    blob         TEXT              -- the result, relative to the data dir
);
CREATE INDEX IF NOT EXISTS tasks_by_tenant ON tasks (tenant, created_at);
CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks (seq) WHERE outcome IS NULL AND canceled_at IS NULL;

-- OpenAI-compatible batches (emulator/batches): the status is derived from these facts and the clock
-- (batches/states.py); the lines' answers wait in results/<batch_id>.all.jsonl until the batch first reads final.
CREATE TABLE IF NOT EXISTS batches (
    seq               INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id          TEXT NOT NULL UNIQUE,
    tenant            TEXT NOT NULL,
    input_file_id     TEXT NOT NULL,
    endpoint          TEXT NOT NULL,
    completion_window TEXT NOT NULL,
    window_seconds    REAL NOT NULL,
    metadata          TEXT,             -- JSON object or NULL
    model             TEXT,
    created_at        REAL NOT NULL,
    validate_seconds  REAL NOT NULL,
    run_seconds       REAL NOT NULL DEFAULT 0,
    validated         INTEGER NOT NULL DEFAULT 0,
    valid             INTEGER NOT NULL DEFAULT 0,
    errors            TEXT,             -- JSON list of validation errors
    total             INTEGER NOT NULL DEFAULT 0,
    ok                INTEGER NOT NULL DEFAULT 0,
    failed            INTEGER NOT NULL DEFAULT 0,
    produced          INTEGER NOT NULL DEFAULT 0,
    cancel_at         REAL,
    finalized         INTEGER NOT NULL DEFAULT 0,
    output_file_id    TEXT,
    error_file_id     TEXT
);
CREATE INDEX IF NOT EXISTS batches_by_tenant ON batches (tenant, seq DESC);
CREATE INDEX IF NOT EXISTS batches_open ON batches (seq) WHERE finalized = 0;
