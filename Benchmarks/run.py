#!/usr/bin/python3
"""`make bench`: Pingjia's benchmarks against their baselines, measured in the same run.

Runs the C baselines (Benchmarks/baselines), the Swift benchmarks (this package, through
ordo-one/package-benchmark), and the daemon measurements (idle RSS and CPU with two emulated
keypads, start-up time to READY=1) with the release binaries, then writes
Benchmarks/results/<UTC time>.md: the machine, and each result with its baseline and ratio.

Options (environment): BENCH_DIR  a directory on the disk to measure (default: a new one in
/var/tmp, i.e. the real disk, not tmpfs); PINGJIA_BENCH_DRAIN  ratings in the drain (1,000,000);
BENCH_IDLE_SECONDS  length of the idle CPU window (30); BENCH_QUICK=1  fewer iterations, for a
smoke run of this script.
"""
import datetime
import glob
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
QUICK = os.environ.get('BENCH_QUICK') == '1'
PAYLOAD = 'https://pj.example.gov.cn/r/pj-0123456789ab/A1023?w=3&s=five'   # as in the Swift benchmark


def log(text):
    print(f'bench: {text}', file=sys.stderr, flush=True)


def run(command, **kwargs):
    log(' '.join(command))
    return subprocess.run(command, check=True, text=True, capture_output=True, **kwargs).stdout


def os_name():
    try:
        with open('/etc/os-release') as f:
            for line in f:
                if line.startswith('PRETTY_NAME='):
                    return line.split('=', 1)[1].strip().strip('"')
    except OSError:
        pass
    return platform.platform()


def machine():
    def first(path, key):
        try:
            with open(path) as f:
                for line in f:
                    if line.startswith(key):
                        return line.split(':', 1)[1].strip()
        except OSError:
            pass
        return '?'
    swift = subprocess.run(['swift', '--version'], text=True, capture_output=True).stdout.strip().splitlines()
    fs = subprocess.run(['df', '-T', BENCH_DIR], text=True, capture_output=True).stdout.strip().splitlines()[-1].split()
    return {
        'CPU': f"{first('/proc/cpuinfo', 'model name')} ({os.cpu_count()} logical CPUs)",
        'Memory': first('/proc/meminfo', 'MemTotal'),
        'Kernel': platform.release(),
        'OS': os_name(),
        'Swift': swift[0] if swift else '?',
        'Disk under test': f'{BENCH_DIR} ({fs[1] if len(fs) > 1 else "?"})',
        'Load average at start': ' '.join(f'{x:.2f}' for x in os.getloadavg()),
    }


# -- C baselines ----------------------------------------------------------------------------------

def build_baselines(out):
    flags = run(['pkg-config', '--cflags', '--libs', 'sqlite3', 'libqrencode', 'libpng']).split()
    for name in ('sqlite_commit', 'qr_png', 'notify_ready'):
        run(['gcc', '-O2', '-o', f'{out}/{name}', f'{HERE}/baselines/{name}.c'] + flags)


def c_commit(out, n):
    db = tempfile.mkdtemp(dir=BENCH_DIR)
    try:
        return json.loads(run([f'{out}/sqlite_commit', 'commit', f'{db}/c.db', str(n)]))
    finally:
        shutil.rmtree(db)


def c_bulk(out, rows, batch):
    db = tempfile.mkdtemp(dir=BENCH_DIR)
    try:
        return json.loads(run([f'{out}/sqlite_commit', 'bulk', f'{db}/c.db', str(rows), str(batch)]))
    finally:
        shutil.rmtree(db)


# -- Swift benchmarks (package-benchmark) ------------------------------------------------------------

def swift_benchmarks(drain):
    results = os.path.join(HERE, '.build', 'bench-results')
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    # The press benchmarks rate on the shipped scales (scales/), as pingjiad does.
    env = dict(os.environ, BENCH_DIR=BENCH_DIR, PINGJIA_BENCH_DRAIN=str(drain), PINGJIA_DATA_DIR=ROOT + '/')
    run(['swift', 'package', '--package-path', HERE, '--allow-writing-to-package-directory', 'benchmark',
         '--format', 'histogramPercentiles', '--path', results, '--no-progress'], env=env, cwd=HERE)
    # One TSV per benchmark and metric: "Percentile<TAB>Time (wall clock) (μs) *", then a row per percentile.
    scale = {'ns': 0.001, 'μs': 1, 'us': 1, 'ms': 1000, 's': 1_000_000}
    found = {}
    for path in glob.glob(os.path.join(results, '*.wallClock.histogram.percentiles.tsv')):
        name = os.path.basename(path).split('PingjiaBenchmarks.', 1)[1].rsplit('.wallClock', 1)[0]
        with open(path) as f:
            header = f.readline()
            unit = header.rsplit('(', 1)[1].split(')', 1)[0]
            values = {}
            for line in f:
                percentile, value = line.split('\t')[:2]
                values[float(percentile)] = float(value) * scale[unit]
        found[name] = {'p50_us': values[50.0], 'p99_us': values[99.0], 'unit': 'μs'}
    missing = [name for name in ('press-commit', 'press-commit-hub-unreachable', 'qr-png', 'push-drain') if name not in found]
    if missing:
        raise SystemExit(f'bench: no results for {", ".join(missing)} in {results}: the benchmark failed, see its output')
    return found


def release_binaries():
    """pingjiad and pingjia-hub in release, built through this package (shares its build)."""
    for product in ('pingjiad', 'pingjia-hub'):
        run(['swift', 'build', '-c', 'release', '--package-path', HERE, '--product', product])
    return run(['swift', 'build', '-c', 'release', '--package-path', HERE, '--show-bin-path']).strip()


# -- daemon: start-up to READY=1, idle RSS and CPU with two emulated keypads ---------------------------

def wait_ready(sock, process, timeout=60):
    sock.settimeout(0.05)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if b'READY=1' in sock.recv(4096).split(b'\n'):
                return True
        except socket.timeout:
            if process.poll() is not None:
                return False
    return False


def start_timed(command, env, directory):
    """Starts `command` with its own NOTIFY_SOCKET; the seconds until READY=1 and the process."""
    path = os.path.join(directory, f'notify-{len(os.listdir(directory))}')
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    started = time.monotonic()
    process = subprocess.Popen(command, env=dict(env, NOTIFY_SOCKET=path), stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True)
    ready = wait_ready(sock, process)
    elapsed = time.monotonic() - started
    sock.close()
    if not ready:
        process.kill()
        raise SystemExit(f'bench: {command[0]} never sent READY=1: {process.stderr.read()[-2000:]}')
    return elapsed, process


def daemon(bin_dir, baselines):
    idle_seconds = int(os.environ.get('BENCH_IDLE_SECONDS', '5' if QUICK else '30'))
    scratch = tempfile.mkdtemp(prefix='pjb-', dir='/tmp')   # short: umockdev's socket paths
    specs = [{'name': 'pj5', 'kind': 'hid-keyboard', 'vid': 0x1a2b, 'pid': 0x0005, 'port': '1', 'in_size': 8},
             {'name': 'pj3r', 'kind': 'hid-vendor', 'vid': 0x1a2b, 'pid': 0x0103, 'port': '2', 'in_size': 4}]
    emulator = subprocess.Popen(['umockdev-wrapper', '/usr/bin/python3', f'{ROOT}/Tests/Emulator/usb_emulator.py', json.dumps(specs)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=dict(os.environ, TMPDIR=scratch))
    try:
        umockdev_dir = None
        for line in emulator.stdout:
            event = json.loads(line)
            if event.get('event') == 'ready':
                umockdev_dir = event['umockdev_dir']
                break
        state = os.path.join(scratch, 'state')
        env = dict(os.environ, LD_PRELOAD='libumockdev-preload.so.0', UMOCKDEV_DIR=umockdev_dir,
                   PINGJIA_DATA_DIR=ROOT + '/')
        env.pop('PINGJIA_STATE_DIR', None)
        env.pop('PINGJIA_CONFIG', None)

        # Start-up to READY=1 (store open, local web bound): the first start creates the state,
        # the measured ones open it as every boot does. Median of five against the C floor.
        first, process = start_timed([f'{bin_dir}/pingjiad', '--state-dir', state], env, scratch)
        process.terminate(); process.wait(15)
        starts, floors = [], []
        for _ in range(5):
            seconds, process = start_timed([f'{bin_dir}/pingjiad', '--state-dir', state], env, scratch)
            starts.append(seconds)
            process.terminate(); process.wait(15)
            seconds, process = start_timed([f'{baselines}/notify_ready'], env, scratch)
            floors.append(seconds)
            process.kill(); process.wait()

        # Idle: both keypads attached, nothing pressed.
        _, process = start_timed([f'{bin_dir}/pingjiad', '--state-dir', state], env, scratch)
        attached, deadline = 0, time.monotonic() + 30
        while attached < 2 and time.monotonic() < deadline:
            line = process.stderr.readline()
            attached += 'device attached' in line
        if attached < 2:
            raise SystemExit('bench: pingjiad did not attach both emulated keypads')
        time.sleep(3)
        ticks0, t0 = cpu_ticks(process.pid), time.monotonic()
        time.sleep(idle_seconds)
        ticks1, t1 = cpu_ticks(process.pid), time.monotonic()
        memory = rss(process.pid)
        cpu = (ticks1 - ticks0) / os.sysconf('SC_CLK_TCK') / (t1 - t0) * 100
        process.terminate(); process.wait(15)
        return {'first_start_s': first, 'start_s': sorted(starts)[2], 'floor_s': sorted(floors)[2],
                'rss_mb': memory.get('Rss', 0) / 1024, 'pss_mb': memory.get('Pss', 0) / 1024,
                'private_mb': (memory.get('Private_Clean', 0) + memory.get('Private_Dirty', 0)) / 1024,
                'cpu_percent': cpu, 'idle_seconds': idle_seconds}
    finally:
        try:
            emulator.stdin.write('quit\n'); emulator.stdin.flush()
            emulator.wait(5)
        except Exception:
            emulator.kill()
        shutil.rmtree(scratch, ignore_errors=True)


def cpu_ticks(pid):
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss(pid):
    """kB from /proc/PID/smaps_rollup: Rss, Pss, and the private part (what this process alone costs)."""
    values = {}
    with open(f'/proc/{pid}/smaps_rollup') as f:
        for line in f:
            parts = line.split()
            if len(parts) == 3 and parts[2] == 'kB':
                values[parts[0].rstrip(':')] = int(parts[1])
    return values


# -- hub ingest per backend (pingjia-hub bench-ingest, when the hub has it) ------------------------------

def hub_ingest(bin_dir):
    """Lines of `pingjia-hub bench-ingest` per backend: SQLite on the disk under test, and
    PostgreSQL in a throwaway cluster (scripts/with-postgres.sh, fsync on)."""
    hub = f'{bin_dir}/pingjia-hub'
    if subprocess.run([hub, 'bench-ingest', '--help'], capture_output=True).returncode != 0:
        return None
    extra = ['--ratings', '20000', '--devices', '20'] if QUICK else []
    lines = []
    directory = tempfile.mkdtemp(dir=BENCH_DIR)
    try:
        lines.append('SQLite:     ' + run([hub, 'bench-ingest', '--db', f'{directory}/hub.db'] + extra).strip())
    except subprocess.CalledProcessError as error:
        lines.append(f'SQLite:     failed: {error.stderr.strip()[-500:]}')
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    try:
        command = f'"{hub}" bench-ingest --db "$PINGJIA_TEST_POSTGRES_URL?schema=bench" ' + ' '.join(extra)
        lines.append('PostgreSQL: ' + run([f'{ROOT}/scripts/with-postgres.sh', 'sh', '-c', command],
                                          env=dict(os.environ, PINGJIA_TEST_POSTGRES_FSYNC='on')).strip().splitlines()[-1])
    except subprocess.CalledProcessError as error:
        lines.append(f'PostgreSQL: failed: {error.stderr.strip()[-500:]}')
    return '\n'.join(lines)


# -- report ------------------------------------------------------------------------------------------

def ratio(ours, base):
    return f'{ours / base:.2f}×' if base else '–'


def report(info, rows, notes, ingest):
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H%M%SZ')
    lines = [f'# Pingjia benchmarks, {stamp}', '', '## Machine', '']
    lines += [f'- {key}: {value}' for key, value in info.items()]
    lines += ['', '## Results', '', 'Each baseline was measured in this same run, on the same disk.', '',
              '| Measurement | Pingjia | Baseline | Ratio | Goal | Met |', '|---|---|---|---|---|---|']
    lines += [f'| {r[0]} | {r[1]} | {r[2]} | {r[3]} | {r[4]} | {r[5]} |' for r in rows]
    if ingest:
        lines += ['', '## Hub ingest per storage backend (`pingjia-hub bench-ingest`)', '', '```', ingest, '```']
    lines += ['', '## Notes', ''] + [f'- {n}' for n in notes]
    os.makedirs(os.path.join(HERE, 'results'), exist_ok=True)
    path = os.path.join(HERE, 'results', f'{stamp}.md')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')
    return path


def main():
    global BENCH_DIR
    BENCH_DIR = os.environ.get('BENCH_DIR') or tempfile.mkdtemp(prefix='pingjia-bench-', dir='/var/tmp')
    os.makedirs(BENCH_DIR, exist_ok=True)
    drain = int(os.environ.get('PINGJIA_BENCH_DRAIN', '20000' if QUICK else '1000000'))
    info = machine()
    baselines = tempfile.mkdtemp(prefix='pingjia-baselines-')
    build_baselines(baselines)

    c_press = c_commit(baselines, 300 if QUICK else 2000)
    c_qr = json.loads(run([f'{baselines}/qr_png', PAYLOAD, '500' if QUICK else '5000']))
    c_drain = c_bulk(baselines, drain, 2000)
    swift = swift_benchmarks(drain)
    bin_dir = release_binaries()
    d = daemon(bin_dir, baselines)
    ingest = hub_ingest(bin_dir)

    press, qr, push = swift['press-commit'], swift['qr-png'], swift['push-drain']
    cut = swift['press-commit-hub-unreachable']
    drain_s = push['p50_us'] / 1e6 if push['unit'] == 'μs' else push['p50_us'] / 1e3
    rows = [
        ('Press → durable commit, p50', f"{press['p50_us']:.0f} µs", f"{c_press['p50_us']:.0f} µs (C, SQLite WAL+FULL)",
         ratio(press['p50_us'], c_press['p50_us']), '–', '–'),
        ('Press → durable commit, p99', f"{press['p99_us']:.0f} µs", f"{c_press['p99_us']:.0f} µs",
         f"{ratio(press['p99_us'], c_press['p99_us'])} ({(press['p99_us'] - c_press['p99_us']) / 1000:+.2f} ms)",
         'p99 within 1 ms of C', 'yes' if press['p99_us'] - c_press['p99_us'] <= 1000 else 'NO'),
        ('Press → durable commit with the hub unreachable, p99', f"{cut['p99_us']:.0f} µs", f"{press['p99_us']:.0f} µs (hub not running)",
         f"{ratio(cut['p99_us'], press['p99_us'])} ({(cut['p99_us'] - press['p99_us']) / 1000:+.2f} ms)",
         'p99 within 1 ms of the hub-free p99', 'yes' if cut['p99_us'] - press['p99_us'] <= 1000 else 'NO'),
        ('QR encode + PNG, p50', f"{qr['p50_us']:.0f} µs", f"{c_qr['p50_us']:.0f} µs (C, libqrencode+libpng)",
         ratio(qr['p50_us'], c_qr['p50_us']), '≤ 1.2×', 'yes' if qr['p50_us'] <= 1.2 * c_qr['p50_us'] else 'NO'),
        (f'Push drain of {drain:,} ratings to a loopback hub', f'{drain_s:.1f} s ({drain / drain_s:,.0f} ratings/s = hub ingest)',
         f"{c_drain['seconds']:.2f} s (C, the same rows into SQLite in batches of 2000)",
         ratio(drain_s, c_drain['seconds']), '< 30 s' + ('' if drain == 1_000_000 else ' (for 1M)'),
         ('yes' if drain_s < 30 else 'NO') if drain == 1_000_000 else f'~{drain_s * 1_000_000 / drain:.0f} s per 1M'),
        ('Idle daemon RSS, two keypads', f"{d['rss_mb']:.1f} MB (PSS {d['pss_mb']:.1f}, private {d['private_mb']:.1f})",
         '30 MB (goal)', ratio(d['rss_mb'], 30), '< 30 MB', 'yes' if d['rss_mb'] < 30 else 'NO'),
        ('Idle daemon CPU, two keypads', f"{d['cpu_percent']:.2f} % over {d['idle_seconds']} s", '0 %', '–', '≈ 0 %',
         'yes' if d['cpu_percent'] < 0.5 else 'NO'),
        ('Start-up to READY=1 (median of 5)', f"{d['start_s'] * 1000:.0f} ms", f"{d['floor_s'] * 1000:.1f} ms (C: exec + READY=1)",
         ratio(d['start_s'], d['floor_s']), '–', '–'),
    ]
    notes = [
        'Press → durable commit is measured through the one press path (`KioskContext.press`: the choice checked, the '
        'session decision, the staff member looked up, the commit on the store\'s writer thread until it is fsync\'d), '
        'which is what the keypad waits for before 谢谢; USB transfer time is not included. The C baseline is one INSERT '
        'and its commit.',
        'With the hub unreachable the push loop and the heartbeat each have a request hanging on a socket that accepts '
        'connections and never answers, and the heartbeat looks for changes every 10 ms (the daemon: every second).',
        'Push drain uses the benchmark profile: the hub\'s per-device rate limit lifted and 2,000 ratings a batch. With the '
        'shipped defaults (20 requests/s, burst 40, 500 ratings a batch) a drain cannot exceed 10,000 ratings/s, i.e. '
        '1,000,000 ratings take at least 100 s.',
        'The drain\'s baseline is the storage floor of the hub alone (the same number of rows, batch commits, no HTTP, no '
        'signatures, no hash chain), so its ratio is the cost of everything the protocol adds.',
        'Idle CPU is measured under umockdev: the emulated device node is a socket that always polls writable, so libusb '
        'is woken every 50 ms per keypad (Tests/Emulator/usb_emulator.py, IDLE_WAIT); a real usbfs node sleeps in poll().',
        'RSS counts every page of the shared libraries the daemon has touched (Swift runtime, Foundation and its ICU '
        'data, libsqlite3, libusb); PSS divides shared pages among the processes using them, and the private part is '
        'what this daemon alone adds to the machine.',
        f"First start (creating the state directory and store): {d['first_start_s'] * 1000:.0f} ms.",
        f"Release build. Swift benchmarks: ordo-one/package-benchmark; raw results in Benchmarks/.build/bench-results.",
    ]
    path = report(info, rows, notes, ingest)
    print(open(path).read())
    log(f'wrote {path}')
    shutil.rmtree(baselines, ignore_errors=True)
    if not os.environ.get('BENCH_DIR'):
        shutil.rmtree(BENCH_DIR, ignore_errors=True)


BENCH_DIR = None
if __name__ == '__main__':
    main()
