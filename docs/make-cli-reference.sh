#!/usr/bin/env bash
# Regenerate docs/cli.md from the CLI's own --help (run from the repository root).
set -euo pipefail
export COLUMNS=100
cxlens=".venv/bin/cxlens"
{
  echo "# CLI reference"; echo
  echo "Generated from \`cxlens --help\` (regenerate: \`bash docs/make-cli-reference.sh\`)."; echo
  echo '```'; $cxlens --help; echo '```'
  for c in init tables synth run demo export ingest quality profile forget kpi kpis serve report \
           transcribe qa forecast staff "eval identity" "eval journeys" "text redact" \
           "text sentiment" "text intent" "train intent" "user add"; do
    echo; echo "## cxlens $c"; echo; echo '```'; $cxlens $c --help; echo '```'
  done
} > docs/cli.md
