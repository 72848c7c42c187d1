import Foundation
import Testing

/// The durability rule, observed from outside: for every rating, the WAL frames it wrote are
/// fsync'ed before `pingjia rate` tells anyone "committed". With synchronous=NORMAL SQLite does not
/// sync the WAL at commit (only at checkpoints), so this run would fail: the check distinguishes
/// FULL from NORMAL rather than trusting a PRAGMA read-back.
@Suite struct DurabilityProofTests {
    @Test func walIsSyncedBeforeEachCommitIsAcknowledged() throws {
        try withTempDir { dir in
            let state = try initialisedState(in: dir, roster: true)
            let strace = try tool("strace")
            let pingjiaBinary = try binary("pingjia")
            for seq: UInt64 in 1...3 {
                let log = dir.appendingPathComponent("strace-\(seq).log")
                // pwrite64 too: SQLite writes WAL frames with it, and the sync must come after them.
                let result = try run(strace, ["-f", "-y", "-s", "64", "-e", "trace=fsync,fdatasync,write,pwrite64",
                                              "-o", log.path, pingjiaBinary, "rate", "--staff", "A1023", "--level", "1",
                                              "--state-dir", state.path], in: dir)
                #expect(result.status == 0, "strace or pingjia failed (is ptrace allowed here?): \(result)")
                #expect(result.stdout.hasPrefix("committed seq \(seq):"), "\(result)")
                let trace = try String(contentsOf: log, encoding: .utf8)
                if let problem = Self.durabilityProblem(in: trace, seq: seq) {
                    Issue.record("rating \(seq): \(problem)\n--- strace log\n\(trace.split(separator: "\n").suffix(60).joined(separator: "\n"))")
                }
            }
        }
    }

    /// A syscall of interest, at the line of the log where it completed.
    struct Event {
        enum Kind { case walWrite, storeWrite, walSync, ack(UInt64) }
        let kind: Kind
        let startLine: Int
        let endLine: Int
    }

    /// Nil when the log shows: WAL frames written, then an fsync/fdatasync of the WAL completed
    /// (before any write to the main database file, i.e. not a checkpoint's sync), then the
    /// "committed seq N" write to stdout; otherwise what is missing.
    static func durabilityProblem(in log: String, seq: UInt64) -> String? {
        let events = parse(log)
        guard let ack = events.first(where: { if case .ack(let n) = $0.kind { n == seq } else { false } }) else {
            return "no write of \"committed seq \(seq)\" to stdout in the trace"
        }
        guard let lastWALWrite = events.last(where: { if case .walWrite = $0.kind { $0.endLine < ack.startLine } else { false } }) else {
            return "no write to pingjia.db-wal before the acknowledgement"
        }
        let sync = events.first { event in
            if case .walSync = event.kind { event.startLine > lastWALWrite.endLine && event.endLine < ack.startLine } else { false }
        }
        guard let sync else {
            return "no fsync/fdatasync of pingjia.db-wal between its last write (line \(lastWALWrite.endLine + 1)) "
                + "and the acknowledgement (line \(ack.startLine + 1))"
        }
        if let checkpoint = events.first(where: { event in
            if case .storeWrite = event.kind { event.startLine > lastWALWrite.endLine && event.startLine < sync.startLine } else { false }
        }) {
            return "the WAL sync at line \(sync.startLine + 1) follows a write to pingjia.db (line \(checkpoint.startLine + 1)): "
                + "a checkpoint's sync, not the commit's"
        }
        return nil
    }

    /// Reads `strace -f -y` output. With -f a call may be split into "<unfinished ...>" and
    /// "<... name resumed>" lines; a sync counts only where it returned 0.
    static func parse(_ log: String) -> [Event] {
        let lines = log.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var events: [Event] = []
        for (index, line) in lines.enumerated() {
            guard let call = line.firstMatch(of: /^(\d+)\s+(fsync|fdatasync|write|pwrite64)\((\d+)<([^>]*)>(.*)$/) else { continue }
            let pid = call.1, name = String(call.2), fd = call.3, path = call.4, rest = call.5
            var end = index
            var returned = String(rest)
            if rest.hasSuffix("<unfinished ...>") {
                guard let resumed = lines[(index + 1)...].firstIndex(where: { $0.hasPrefix("\(pid) <... \(name) resumed>") }) else { continue }
                end = resumed
                returned = lines[resumed]
            }
            let kind: Event.Kind
            switch name {
            case "fsync", "fdatasync":
                guard path.hasSuffix("pingjia.db-wal"), returned.hasSuffix("= 0") else { continue }
                kind = .walSync
            default:
                if fd == "1", let ack = rest.firstMatch(of: /^, "committed seq (\d+)/), let n = UInt64(ack.1) {
                    kind = .ack(n)
                } else if path.hasSuffix("pingjia.db-wal") {
                    kind = .walWrite
                } else if path.hasSuffix("/pingjia.db") {
                    kind = .storeWrite
                } else {
                    continue
                }
            }
            events.append(Event(kind: kind, startLine: index, endLine: end))
        }
        return events
    }

    /// The checker itself must be able to fail: a log where the WAL is synced only after the
    /// acknowledgement (what NORMAL looks like), or only by a checkpoint, is rejected.
    @Test func checkerRejectsLogsWithoutACommitSync() {
        let full = """
            100 pwrite64(7</s/pingjia.db-wal>, "\\0\\0\\0\\6", 24, 4096) = 24
            100 fdatasync(7</s/pingjia.db-wal>) = 0
            101 write(1<pipe:[1]>, "committed seq 1: A1023 at window"..., 150) = 150
            """
        let normal = """
            100 pwrite64(7</s/pingjia.db-wal>, "\\0\\0\\0\\6", 24, 4096) = 24
            101 write(1<pipe:[1]>, "committed seq 1: A1023 at window"..., 150) = 150
            100 fdatasync(7</s/pingjia.db-wal>) = 0
            """
        let checkpointOnly = """
            100 pwrite64(7</s/pingjia.db-wal>, "\\0\\0\\0\\6", 24, 4096) = 24
            100 pwrite64(6</s/pingjia.db>, "\\r\\0", 4096, 8192) = 4096
            100 fsync(7</s/pingjia.db-wal>) = 0
            101 write(1<pipe:[1]>, "committed seq 1: A1023 at window"..., 150) = 150
            """
        let split = """
            100 pwrite64(7</s/pingjia.db-wal>, "\\0\\0\\0\\6", 24, 4096) = 24
            100 fdatasync(7</s/pingjia.db-wal> <unfinished ...>
            101 write(1<pipe:[1]>, "committed seq 1: A1023 at window"..., 150) = 150
            100 <... fdatasync resumed>) = 0
            """
        #expect(Self.durabilityProblem(in: full, seq: 1) == nil)
        #expect(Self.durabilityProblem(in: full, seq: 2) != nil)
        #expect(Self.durabilityProblem(in: normal, seq: 1) != nil)
        #expect(Self.durabilityProblem(in: checkpointOnly, seq: 1) != nil)
        #expect(Self.durabilityProblem(in: split, seq: 1) != nil, "a sync still running at the acknowledgement does not count")
    }
}
