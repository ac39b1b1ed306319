#!/bin/bash
# init, start, add 200 incidents (JSON arrays and flags), list and show them,
# stop, start, list and show again: everything there and identical.
source "$(dirname "$0")/lib.sh"

node_init
node_start

# 150 through --json arrays (add_batch), 3 files of 50.
start=$(date +%s%N)
for k in 0 1 2; do
	gen_array $((k * 50 + 1)) $((k * 50 + 50)) > "$T/batch$k.json"
	expect_rc 0 tj add --json "$T/batch$k.json"
	[ "$(grep -c 'severity' "$T/out")" = 50 ] || fail "batch $k: expected 50 ids"
	cut -d' ' -f1 "$T/out" >> "$T/ids"
done
echo "figure: 150 incidents through 3 --json arrays in $(( ($(date +%s%N) - start) / 1000000 )) ms"
# 1 object through stdin, with JSON output.
gen_incident 151 | tj add --json - --json-out > "$T/one.json" || fail "add from stdin"
grep -o '"id":[[:space:]]*"[0-9a-f]\{64\}"' "$T/one.json" | grep -o '[0-9a-f]\{64\}' >> "$T/ids"
# 49 through flags, one process each.
start=$(date +%s%N)
for i in $(seq 152 200); do
	expect_rc 0 tj add --date 2025-06-$(printf %02d $(( (i % 28) + 1 ))) --state 20 --municipality 20067 \
		--place-type community_territory \
		--victim "ref=f-$i,unit=community,role=community_leader,gender=not_applicable,age_band=not_applicable,traits=indigenous,causes=land_territory+water" \
		--aggressor "category=state,type=municipal_police,level=municipal,involvement=direct" \
		--act threat --act surveillance:0:0 \
		--protection state_mechanism --risk extraordinary --measure patrol --failed patrol \
		--source organization_documentation --reliability completely_reliable --verification partially_verified \
		--victim-name "Comunidad Inventada $i" --narrative "Relato por banderas $i" --consent network_statistics,network_alerts
	cut -d' ' -f1 "$T/out" >> "$T/ids"
done
ms=$(( ($(date +%s%N) - start) / 1000000 ))
echo "figure: 49 adds through flags (one process each) in $ms ms"

n=$(sort -u "$T/ids" | grep -c '^[0-9a-f]\{64\}$')
[ "$n" = 200 ] || fail "expected 200 distinct ids, got $n"
[ "$(count_list)" = 200 ] || fail "list --json does not show 200 incidents"
tj list > "$T/table" || fail "list"
[ "$(wc -l < "$T/table")" = 201 ] || fail "the table should have a header and 200 rows"
grep -q 'Oaxaca de Juárez' "$T/table" || fail "the table names municipalities"
tj list --lang es > "$T/table.es" || fail "list --lang es"
head -1 "$T/table.es" | grep -q 'MUNICIPIO' || fail "Spanish table header"
[ "$(tj list --limit 7 --json | grep -c '^[[:space:]]*"id":')" = 7 ] || fail "--limit 7"
[ "$(tj list --state 12 --json | grep -c '"state":[[:space:]]*"12"')" -gt 0 ] || fail "--state filter"

# Every incident by its full id (JSON, with its case face), and by a prefix.
snapshot() {
	local out=$1 id
	tj list --json > "$out.list" || fail "list"
	: > "$out.show"
	while read -r id; do
		tj show --json "$id" >> "$out.show" || fail "show $id"
	done < "$T/ids"
}
snapshot "$T/before"
grep -q '"narrative":[[:space:]]*"Relato por banderas 200"' "$T/before.show" || fail "case face of a flags incident"
grep -q '"victim_names":' "$T/before.show" || fail "victim names in show --json"
id=$(head -1 "$T/ids")
expect_rc 0 tj show "${id:0:10}"
grep -q "Persona Inventada" "$T/out" || fail "show by prefix prints the case face"
expect_rc 0 tj show --lang es "$id"
grep -q "gravedad" "$T/out" || fail "show --lang es"

node_stop
node_start
snapshot "$T/after"
cmp -s "$T/before.list" "$T/after.list" || { diff "$T/before.list" "$T/after.list" | head; fail "list differs after restart"; }
cmp -s "$T/before.show" "$T/after.show" || fail "show differs after restart"

# Exports: CSV has one row per act (151 incidents with 1 act, 49 with 2) plus the header.
expect_rc 0 tj export --format csv --out "$T/export.csv"
[ "$(stat -c %a "$T/export.csv")" = 600 ] || fail "export file mode is not 0600"
rows=$(grep -c '^[0-9a-f]\{64\},' "$T/export.csv")
[ "$rows" = $((151 + 49 * 2)) ] || fail "CSV: expected 249 act rows, got $rows"
grep -q 'Persona Inventada' "$T/export.csv" && fail "CSV without --include-case holds names"
expect_rc 0 tj export --format csv --include-case --out "$T/export-case.csv"
grep -q 'plaintext' "$T/err" || fail "--include-case warns on stderr"
grep -q 'Persona Inventada 1"\?,' "$T/export-case.csv" || grep -q 'Persona Inventada 1,' "$T/export-case.csv" ||
	fail "CSV with --include-case holds the names"
expect_rc 0 tj export --format json
[ "$(grep -c '^[[:space:]]*"id":' "$T/out")" = 200 ] || fail "JSON export"
echo "roundtrip: ok"
