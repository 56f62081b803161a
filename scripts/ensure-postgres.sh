#!/usr/bin/env bash
# Make sure a PostgreSQL server answers on 127.0.0.1:5432 with trust authentication for the
# user postgres, as the test suite expects. Installs Debian's postgresql when it is missing.
set -euo pipefail

answers() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }

if command -v pg_isready >/dev/null 2>&1 && answers; then
    echo "PostgreSQL answers on 127.0.0.1:5432"
    exit 0
fi
if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then
    echo "installing PostgreSQL from Debian packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq postgresql >/dev/null
    fresh=1
else
    fresh=0
fi
version=$(ls /etc/postgresql | sort -V | tail -n 1)
if [ "$fresh" = 1 ]; then
    hba=/etc/postgresql/$version/main/pg_hba.conf
    # Local test server only: trust connections from this machine, as the suite expects.
    sed -i -E 's/^(host\s+all\s+all\s+(127\.0\.0\.1\/32|::1\/128)\s+)\S+/\1trust/' "$hba"
    sed -i -E 's/^(local\s+all\s+postgres\s+)\S+/\1trust/' "$hba"
fi
pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
for _ in $(seq 1 30); do
    if answers; then
        echo "PostgreSQL $version answers on 127.0.0.1:5432"
        exit 0
    fi
    sleep 1
done
echo "PostgreSQL did not start; see /var/log/postgresql/" >&2
exit 1
