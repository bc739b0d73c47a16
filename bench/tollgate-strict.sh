#!/usr/bin/env bash
# Tollgate with `durability: strict` (every response waits for its record's commit), for the
# cost of strict durability side by side with the default. Same contract as the harness's
# peers/tollgate.sh, whose config it reuses with one line added.
set -euo pipefail
: "${TOLLGATE:?set TOLLGATE to the command that runs the tollgate CLI}"
here=$(cd "$(dirname "$0")" && pwd)
RUN_DIR=$RUN_DIR TOLLGATE="true" bash "$here/tollgate.sh" >/dev/null 2>&1 || true   # writes $RUN_DIR/tollgate.yaml
cfg=$RUN_DIR/tollgate.yaml
sed -i 's/^audit:$/audit:\n  durability: strict/' "$cfg"
exec $TOLLGATE start -c "$cfg"
