/* Baseline for "press -> durable commit": raw SQLite, WAL + synchronous=FULL, one INSERT per
 * BEGIN IMMEDIATE ... COMMIT, a row shaped like a rating (with 32-byte hashes). This is the floor
 * the kiosk store sits on: what is left is fsync.
 *   sqlite_commit commit DB ITERATIONS   -> {"p50_us":..,"p99_us":..,"n":..}
 *   sqlite_commit bulk DB ROWS BATCH     -> {"seconds":..}  (the hub's storage floor for a drain)
 */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void check(int rc, sqlite3 *db, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "sqlite_commit: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: sqlite_commit commit DB N | bulk DB ROWS BATCH\n");
        return 2;
    }
    sqlite3 *db;
    check(sqlite3_open(argv[2], &db), db, "open");
    check(sqlite3_exec(db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                           "CREATE TABLE IF NOT EXISTS rating (seq INTEGER PRIMARY KEY, id TEXT NOT NULL,"
                           " staff_id TEXT, window_id TEXT, channel TEXT NOT NULL, level INTEGER NOT NULL,"
                           " rated_at TEXT NOT NULL, prev_hash BLOB NOT NULL, hash BLOB NOT NULL)",
                       0, 0, 0), db, "schema");
    sqlite3_stmt *insert, *begin, *commit;
    check(sqlite3_prepare_v2(db, "INSERT INTO rating (id, staff_id, window_id, channel, level, rated_at, prev_hash, hash)"
                                 " VALUES ('0b6e4f1a-7c2d-4e8f-9a31-5d2c8b7e6f10', 'A1023', '3', 'keypad', ?,"
                                 " '2026-11-24T10:44:00.123+08:00', ?, ?)", -1, &insert, 0), db, "prepare");
    check(sqlite3_prepare_v2(db, "BEGIN IMMEDIATE", -1, &begin, 0), db, "prepare");
    check(sqlite3_prepare_v2(db, "COMMIT", -1, &commit, 0), db, "prepare");
    unsigned char hash[32];
    memset(hash, 0xab, sizeof hash);

    int bulk = strcmp(argv[1], "bulk") == 0;
    long n = atol(argv[3]);
    long batch = bulk && argc > 4 ? atol(argv[4]) : 1;
    double *samples = malloc(sizeof(double) * (size_t)(n / batch + 1));
    long transactions = 0;
    double started = now_us();
    for (long done = 0; done < n; transactions++) {
        double t0 = now_us();
        check(sqlite3_step(begin), db, "begin");
        sqlite3_reset(begin);
        for (long i = 0; i < batch && done < n; i++, done++) {
            sqlite3_bind_int(insert, 1, (int)(done % 5) + 1);
            sqlite3_bind_blob(insert, 2, hash, 32, SQLITE_STATIC);
            sqlite3_bind_blob(insert, 3, hash, 32, SQLITE_STATIC);
            check(sqlite3_step(insert), db, "insert");
            sqlite3_reset(insert);
        }
        check(sqlite3_step(commit), db, "commit");
        sqlite3_reset(commit);
        samples[transactions] = now_us() - t0;
    }
    double total = now_us() - started;
    if (bulk) {
        printf("{\"seconds\": %.3f, \"rows\": %ld, \"batch\": %ld}\n", total / 1e6, n, batch);
    } else {
        qsort(samples, (size_t)transactions, sizeof(double), compare);
        printf("{\"p50_us\": %.1f, \"p99_us\": %.1f, \"n\": %ld}\n", samples[transactions / 2],
               samples[(long)(transactions * 0.99)], transactions);
    }
    sqlite3_close(db);
    return 0;
}
