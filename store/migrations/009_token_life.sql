-- Tokens with a life (issue #22): a public id per token (list, revoke), a name, when it
-- was revoked; users that can be disabled (all their tokens stop at once).
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS id bigint GENERATED ALWAYS AS IDENTITY;
CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_id_idx ON api_tokens (id);
CREATE INDEX IF NOT EXISTS api_tokens_user_idx ON api_tokens (user_id);
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS name text;
ALTER TABLE api_tokens ADD COLUMN IF NOT EXISTS revoked_at timestamptz;
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at timestamptz;

-- Scopes (issue #22): an engineer's reported arrival the geofence did not corroborate.
ALTER TABLE work_orders ADD COLUMN IF NOT EXISTS arrival_unverified boolean NOT NULL DEFAULT false;
