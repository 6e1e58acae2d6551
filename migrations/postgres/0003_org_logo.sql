-- An organization's logo, re-encoded as PNG by the server (never the uploaded bytes).
ALTER TABLE organizations ADD COLUMN logo_png BYTEA;
