# Writes a home's jobs.json and jobs.ids holding N completed `true` jobs (ids h0000001…), in the
# store's own format (SnapshotFile / IdIndexFile), for benchmarks that need a long history
# without running a million jobs. Checked against the store by BenchHistoryTests.
# Usage: awk -v n=1000000 -v home=DIR -f history.awk   (DIR must exist; generation 1)
function record(i,   id, t) {
    id = sprintf("h%07d", i)
    t = "\"2026-01-01T00:00:00.000Z\""
    return "{\"id\":\"" id "\",\"command\":\"true\",\"state\":\"completed\",\"attempts\":1,\"max_retries\":3," \
        "\"created_at\":" t ",\"updated_at\":" t ",\"priority\":0,\"run_at\":null,\"next_run_at\":null,\"timeout\":null," \
        "\"exit_code\":0,\"last_error\":null,\"cwd\":\"/\",\"started_at\":" t ",\"finished_at\":" t ",\"first_started_at\":" t "," \
        "\"history\":[{\"number\":1,\"started_at\":" t ",\"finished_at\":" t ",\"duration_ms\":0,\"exit_code\":0,\"signal\":null,\"error\":null}]}"
}
BEGIN {
    body = home "/jobs.body.tmp"; ids = home "/jobs.ids"
    room = 1024
    printf "\"jobs\":[\n" > body
    offset = room + 9   # after the header's room and the `"jobs":[` line
    print "generation 1" > ids
    for (i = 1; i <= n; i++) {
        r = record(i)
        sep = (i < n) ? ",\n" : "\n"
        printf "%s%s", r, sep > body
        printf "h%07d\t%d\t%d\n", i, offset, length(r) > ids
        offset += length(r) + length(sep)
    }
    printf "]}\n" > body
    close(body); close(ids)
    bytes = offset - room + 3
    header = sprintf("{\"meta\":{\"format\":\"queuectl-jobs\",\"version\":1,\"generation\":1,\"job_count\":%d,\"jobs_bytes\":%d,\"counts\":{\"pending\":0,\"processing\":0,\"completed\":%d,\"failed\":0,\"dead\":0,\"cancelled\":0}}", n, bytes, n)
    pad = ""
    for (k = length(header); k < room - 2; k++) pad = pad " "
    printf "%s%s,\n", header, pad > (home "/jobs.json")
    close(home "/jobs.json")
    system("cat '" body "' >> '" home "/jobs.json' && rm -f '" body "' && ln -f '" home "/jobs.json' '" home "/jobs.1.json'")
    printf "{\"journal\":\"queuectl\",\"generation\":1}\n" > (home "/journal.jsonl")
    printf "generation 1\n" > (home "/jobs.due")
}
