import GRDB

/// Every table of the kiosk store, as migrations. Add a new migration for any change; never edit
/// a shipped one (GRDB checks that the applied list is a prefix of this one).
enum Schema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: outbox, roster, incidents") { db in
            try db.execute(sql: """
                CREATE TABLE meta (
                    key TEXT PRIMARY KEY NOT NULL,
                    value TEXT NOT NULL
                ) STRICT;

                -- The outbox: one immutable row per rating, chained by hash (docs/record-format.md).
                CREATE TABLE rating (
                    seq INTEGER PRIMARY KEY NOT NULL,
                    id TEXT NOT NULL UNIQUE,
                    device_id TEXT NOT NULL,
                    staff_id TEXT,
                    window_id TEXT,
                    matter_code TEXT,
                    case_no TEXT,
                    channel TEXT NOT NULL,
                    scale TEXT NOT NULL,
                    level INTEGER NOT NULL,
                    code INTEGER NOT NULL,
                    reasons TEXT NOT NULL,      -- JSON array of reason codes
                    comment TEXT,
                    rated_at TEXT NOT NULL,
                    monotonic_ns INTEGER NOT NULL,
                    flags TEXT NOT NULL,        -- JSON array, sorted
                    prev_hash BLOB NOT NULL,
                    hash BLOB NOT NULL
                ) STRICT;

                CREATE TRIGGER rating_is_immutable BEFORE UPDATE ON rating
                BEGIN SELECT RAISE(ABORT, 'rating records are immutable'); END;

                -- Rows leave the outbox only once the hub's receipt covers them.
                CREATE TRIGGER rating_kept_until_acked BEFORE DELETE ON rating
                WHEN old.seq > (SELECT acked_through_seq FROM outbox_state)
                BEGIN SELECT RAISE(ABORT, 'rating not yet acknowledged by the hub'); END;

                -- Sync state beside the outbox, never in it. pruned_* keep the chain verifiable
                -- after acknowledged rows are removed.
                CREATE TABLE outbox_state (
                    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                    acked_through_seq INTEGER NOT NULL,
                    pruned_through_seq INTEGER NOT NULL,
                    pruned_head_hash BLOB NOT NULL
                ) STRICT;
                INSERT INTO outbox_state VALUES (1, 0, 0, zeroblob(32));

                CREATE TABLE service_window (
                    window_id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL
                ) STRICT;

                CREATE TABLE staff (
                    staff_id TEXT PRIMARY KEY NOT NULL,
                    name TEXT NOT NULL,
                    window_id TEXT NOT NULL,
                    photo TEXT,
                    matters TEXT NOT NULL        -- JSON array of 事项编码
                ) STRICT;

                -- What happened to the store itself, e.g. a damaged file moved aside at boot.
                CREATE TABLE store_incident (
                    id INTEGER PRIMARY KEY,
                    at TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    damaged_file TEXT
                ) STRICT;
                """)
        }
        migrator.registerMigration("v2: sync state") { db in
            try db.execute(sql: """
                -- The push loop's own state, beside the outbox. dead_letter_* is set when the hub
                -- refused for good (revoked device, bad signature, conflicting record): the loop
                -- stops sending until an installer has dealt with it (`pingjia sync retry`).
                CREATE TABLE sync_state (
                    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
                    dead_letter_reason TEXT,
                    dead_letter_at TEXT,
                    last_error TEXT,
                    last_error_at TEXT,
                    last_receipt TEXT,            -- JSON of the last receipt that advanced acked_through_seq
                    last_receipt_at TEXT
                ) STRICT;
                INSERT INTO sync_state (id) VALUES (1);
                """)
        }
        migrator.registerMigration("v3: record kinds") { db in
            try db.execute(sql: """
                -- 未评价 events and reasons follow-ups share the chain with ratings
                -- (docs/record-format.md, PJR2). Existing rows are ratings.
                ALTER TABLE rating ADD COLUMN kind TEXT NOT NULL DEFAULT 'rating'
                    CHECK (kind IN ('rating', 'unrated', 'reasons'));
                ALTER TABLE rating ADD COLUMN refers_to TEXT;
                -- One follow-up per rating: a second one for the same rating is refused here,
                -- whoever sends it.
                CREATE UNIQUE INDEX rating_one_follow_up ON rating (refers_to) WHERE refers_to IS NOT NULL;
                """)
        }
        return migrator
    }
}
