#!/bin/sh
# Write the gateway's secrets once, for docker-compose.yml (never committed: deploy/secrets/ is ignored).
set -eu
cd "$(dirname "$0")"
mkdir -p secrets
umask 077
for name in jwt_secret id_secret stats_secret audit_key; do
  [ -s "secrets/$name" ] || python3 -c 'import secrets; print(secrets.token_urlsafe(48))' > "secrets/$name"
done
[ -s secrets/audit_signing_key.pem ] || openssl genpkey -algorithm ed25519 -out secrets/audit_signing_key.pem
echo "secrets in $(pwd)/secrets"
