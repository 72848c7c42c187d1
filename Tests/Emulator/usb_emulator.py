#!/usr/bin/python3
"""Emulated USB rating devices for Pingjia's driver tests.

Real libusb in the process under test talks to these devices through umockdev: the preload
library fakes sysfs, udev and /dev/bus/usb, and every usbdevfs ioctl lands in `Device` below.

Run it under `umockdev-wrapper` (so uevents reach libusb's hotplug monitor):

    umockdev-wrapper /usr/bin/python3 usb_emulator.py '<JSON list of device specs>'

A spec: {"name": "k1", "kind": "hid-keyboard" | "hid-vendor" | "bulk", "vid": 6699, "pid": 5,
         "port": "1", "serial": "…", "in_size": 8, "interface": 0, "plugged": true}

Commands, one per line on stdin:
    report NAME HEX      the device sends these bytes on its IN endpoint (a key press, a frame)
    unplug NAME          pending transfers fail with ENODEV, uevent remove, nodes gone
    replug NAME          plugged in again (a new device number, as the kernel would give)
    quit
Events, one JSON object per line on stdout: ready (with the testbed root for UMOCKDEV_DIR),
plugged, unplugged, ioctl-level facts the tests assert on: detach, attach, claim, release,
in (a report the host has received), out (bytes the host sent: control SET_REPORT, interrupt or
bulk OUT), client-gone (the process under test died mid-ioctl), and error.
"""
import json
import struct
import sys
import threading
import time

import gi
gi.require_version('UMockdev', '1.0')
from gi.repository import GLib, UMockdev  # noqa: E402

# usbdevfs ioctl requests (x86-64 Linux, from linux/usbdevice_fs.h)
CONTROL = 0xc0185500
SETINTERFACE = 0x80085504
SETCONFIGURATION = 0x80045505
GETDRIVER = 0x41045508
SUBMITURB = 0x8038550a
DISCARDURB = 0x550b
REAPURB = 0x4008550c
REAPURBNDELAY = 0x4008550d
CLAIMINTERFACE = 0x8004550f
RELEASEINTERFACE = 0x80045510
IOCTL = 0xc0105512
RESET = 0x5514
CLEAR_HALT = 0x80045515
DISCONNECT = 0x5516
CONNECT = 0x5517
GET_CAPABILITIES = 0x8004551a
DISCONNECT_CLAIM = 0x8108551b
GET_SPEED = 0x551f

CAP_ZERO_PACKET = 0x01
CAP_BULK_CONTINUATION = 0x02
CAP_NO_PACKET_SIZE_LIM = 0x04

URB_INTERRUPT, URB_CONTROL, URB_BULK = 1, 2, 3
EAGAIN, ENODEV, ENOENT, EPIPE, EBUSY, ENODATA, EINVAL, ENOTTY = 11, 19, 2, 32, 16, 61, 22, 25

# With nothing to reap, hold the client this long before EAGAIN: the preload's device node is a
# socket that always polls writable, so libusb would otherwise spin. A real usbfs node sleeps in
# poll() until a URB completes; a press wakes the wait at once, so only idle time is stretched.
IDLE_WAIT = 0.05

out_lock = threading.Lock()


def emit(event, **fields):
    fields['event'] = event
    with out_lock:
        sys.stdout.write(json.dumps(fields) + '\n')
        sys.stdout.flush()


def descriptors(spec):
    kind = spec['kind']
    interface = spec.get('interface', 0)
    in_size = spec.get('in_size', 8)
    device = struct.pack('<BBHBBBBHHHBBBB', 18, 1, 0x0200, 0, 0, 0, 64,
                         spec['vid'], spec['pid'], 0x0100, 1, 2, 3, 1)
    if kind == 'hid-keyboard':
        iface = struct.pack('<BBBBBBBBB', 9, 4, interface, 0, 1, 3, 1, 1, 0)
        hid = struct.pack('<BBHBBBH', 9, 0x21, 0x0111, 0, 1, 0x22, 63)
        eps = struct.pack('<BBBBHB', 7, 5, 0x81, 3, in_size, 10)
    elif kind == 'hid-vendor':
        iface = struct.pack('<BBBBBBBBB', 9, 4, interface, 0, 2, 3, 0, 0, 0)
        hid = struct.pack('<BBHBBBH', 9, 0x21, 0x0111, 0, 1, 0x22, 32)
        eps = struct.pack('<BBBBHB', 7, 5, 0x81, 3, in_size, 10) + struct.pack('<BBBBHB', 7, 5, 0x02, 3, 64, 10)
    else:
        iface = struct.pack('<BBBBBBBBB', 9, 4, interface, 0, 2, 0x0a, 0, 0, 0)
        hid = b''
        eps = struct.pack('<BBBBHB', 7, 5, 0x81, 2, 64, 0) + struct.pack('<BBBBHB', 7, 5, 0x02, 2, 64, 0)
    body = iface + hid + eps
    config = struct.pack('<BBHBBBBB', 9, 2, 9 + len(body), 1, 1, 0, 0xa0, 50) + body
    return device, config


def usb_string(text):
    raw = text.encode('utf-16-le')
    return bytes([2 + len(raw), 3]) + raw


class Device(UMockdev.IoctlBase):
    """One plugged-in instance of a device (a replug makes a new one, as a new devnum would)."""

    def __init__(self, spec, devnum):
        super().__init__()
        self.spec = spec
        self.name = spec['name']
        self.devnum = devnum
        self.device_descriptor, self.config_descriptor = descriptors(spec)
        self.driver_bound = spec['kind'] != 'bulk'
        self.claimed = False
        self.gone = False
        self.pending = []      # [urb IoctlData, buffer IoctlData, type, endpoint, length]
        self.done = []         # finished URBs waiting to be reaped
        self.reports = []      # IN data queued by the test
        self.cond = threading.Condition()

    # -- test side ------------------------------------------------------------------------
    def queue_report(self, data):
        with self.cond:
            self.reports.append(data)
            self.cond.notify_all()

    def unplug(self):
        with self.cond:
            self.gone = True
            for urb in self.pending:
                self.finish(urb, -ENODEV, b'')
            self.pending = []
            self.cond.notify_all()

    # -- host side ------------------------------------------------------------------------
    def finish(self, urb, status, data):
        urb_data, buffer, urb_type = urb[0], urb[1], urb[2]
        offset = 8 if urb_type == URB_CONTROL else 0
        if data:
            buffer.update(offset, data)
        urb_data.update(4, struct.pack('<i', status))
        urb_data.update(28, struct.pack('<i', len(data)))
        self.done.append(urb)

    def match_reports(self):
        """Completes pending IN transfers with queued reports, oldest first."""
        while self.reports:
            urb = next((u for u in self.pending if u[2] in (URB_INTERRUPT, URB_BULK) and u[3] & 0x80), None)
            if urb is None:
                return
            self.pending.remove(urb)
            data = self.reports.pop(0)[:urb[4]]
            self.finish(urb, 0, data)
            emit('in', device=self.name, data=data.hex())

    def control(self, urb):
        setup = urb[5]
        request_type, request, value, index, length = struct.unpack('<BBHHH', setup[:8])
        payload = urb[6][8:8 + length]
        if request_type == 0x80 and request == 6:
            kind, number = value >> 8, value & 0xff
            if kind == 1:
                return 0, self.device_descriptor[:length]
            if kind == 2:
                return 0, self.config_descriptor[:length]
            if kind == 3:
                strings = {0: b'\x04\x03\x09\x04', 1: usb_string(self.spec.get('manufacturer', 'Emulated')),
                           2: usb_string(self.spec.get('product', self.name)),
                           3: usb_string(self.spec.get('serial', 'EMU-' + self.name))}
                if number in strings:
                    return 0, strings[number][:length]
            return -EPIPE, b''
        if request_type == 0x81 and request == 6 and value >> 8 == 0x22:
            return 0, bytes(length)
        if request_type == 0x21 and request == 0x0a:          # HID SET_IDLE
            return 0, b''
        if request_type == 0x21 and request == 0x09:          # HID SET_REPORT: LED, beep, text
            emit('out', device=self.name, kind='control', report=value & 0xff, data=payload.hex())
            return 0, b''
        if request_type == 0xa1 and request == 0x01:          # HID GET_REPORT
            return 0, bytes(length)
        if request_type & 0x60 == 0x40 and not request_type & 0x80:   # vendor OUT
            emit('out', device=self.name, kind='vendor', request=request, value=value, data=payload.hex())
            return 0, b''
        return -EPIPE, b''

    def do_handle_ioctl(self, client):
        try:
            return self.handle(client)
        except GLib.Error as error:
            if 'Connection reset' not in error.message and 'Broken pipe' not in error.message:
                emit('error', device=self.name, message=repr(error))
                client.complete(-1, EINVAL)
                return True
            # The process under test died (kill -9): forget its transfers and its claim, as the
            # kernel does, so the next process starts clean.
            with self.cond:
                self.pending = []
                self.done = []
                self.claimed = False
            emit('client-gone', device=self.name)
            return True
        except Exception as error:  # never leave the client hanging
            emit('error', device=self.name, message=repr(error))
            client.complete(-1, EINVAL)
            return True

    def handle(self, client):
        request = client.get_request()
        arg = client.get_arg()
        if request in (REAPURB, REAPURBNDELAY):
            return self.reap(client, arg)
        with self.cond:
            if self.gone:
                client.complete(-1, ENODEV)
                return True
            if request == GET_CAPABILITIES:
                data = arg.resolve(0, 4)
                data.update(0, struct.pack('<I', CAP_ZERO_PACKET | CAP_BULK_CONTINUATION | CAP_NO_PACKET_SIZE_LIM))
                client.complete(0, 0)
            elif request == GETDRIVER:
                data = arg.resolve(0, 260)
                if self.driver_bound:
                    name = b'usbhid' if self.spec['kind'] != 'bulk' else b'cdc_acm'
                    data.update(4, name + b'\0')
                    client.complete(0, 0)
                else:
                    client.complete(-1, ENODATA)
            elif request == IOCTL:
                data = arg.resolve(0, 16)
                _ifno, code = struct.unpack('<ii', bytes(data.retrieve())[:8])
                if code == DISCONNECT:
                    if not self.driver_bound:
                        client.complete(-1, ENODATA)
                    else:
                        self.driver_bound = False
                        emit('detach', device=self.name)
                        client.complete(0, 0)
                elif code == CONNECT:
                    self.driver_bound = True
                    emit('attach', device=self.name)
                    client.complete(0, 0)
                else:
                    client.complete(-1, ENOTTY)
            elif request == DISCONNECT_CLAIM:
                client.complete(-1, ENOTTY)   # make libusb use the explicit detach + claim path
            elif request == CLAIMINTERFACE:
                if self.driver_bound:
                    client.complete(-1, EBUSY)
                else:
                    self.claimed = True
                    emit('claim', device=self.name)
                    client.complete(0, 0)
            elif request == RELEASEINTERFACE:
                self.claimed = False
                emit('release', device=self.name)
                client.complete(0, 0)
            elif request in (SETINTERFACE, SETCONFIGURATION, CLEAR_HALT, RESET):
                client.complete(0, 0)
            elif request == GET_SPEED:
                client.complete(2, 0)   # full speed
            elif request == SUBMITURB:
                self.submit(client, arg)
            elif request == DISCARDURB:
                self.discard(client, arg)
            else:
                client.complete(-1, ENOTTY)
        return True

    def submit(self, client, arg):
        urb_data = arg.resolve(0, 56)
        raw = bytes(urb_data.retrieve())
        urb_type, endpoint = raw[0], raw[1]
        length = struct.unpack_from('<i', raw, 24)[0]
        buffer = urb_data.resolve(16, length)
        contents = bytes(buffer.retrieve())
        urb = [urb_data, buffer, urb_type, endpoint, length, contents[:8], contents]
        if urb_type == URB_CONTROL:
            status, data = self.control(urb)
            self.finish(urb, status, data)
        elif not endpoint & 0x80:
            emit('out', device=self.name, kind='interrupt' if urb_type == URB_INTERRUPT else 'bulk',
                 endpoint=endpoint, data=contents.hex())
            urb_data.update(4, struct.pack('<i', 0))
            urb_data.update(28, struct.pack('<i', length))
            self.done.append(urb)
        else:
            self.pending.append(urb)
            self.match_reports()
        client.complete(0, 0)
        self.cond.notify_all()

    def discard(self, client, arg):
        # DISCARDURB's argument is the URB's address itself, as the client sees it.
        address = struct.unpack('<Q', bytes(arg.retrieve())[:8])[0]
        target = next((urb for urb in self.pending if urb[0].client_addr == address), None)
        if target is None:
            client.complete(-1, EINVAL)
            return
        self.pending.remove(target)
        self.finish(target, -ENOENT, b'')
        client.complete(0, 0)

    def reap(self, client, arg):
        with self.cond:
            if not self.done:
                self.match_reports()
            if not self.done:
                self.cond.wait(IDLE_WAIT)
                self.match_reports()
            if not self.done:
                client.complete(-1, ENODEV if self.gone else EAGAIN)
                return True
            urb = self.done.pop(0)
            out = arg.resolve(0, 8)
            out.set_ptr(0, urb[0])
            client.complete(0, 0)
            return True


class Emulator:
    def __init__(self, specs):
        self.testbed = UMockdev.Testbed.new()
        self.specs = {spec['name']: spec for spec in specs}
        self.devices = {}
        self.next_devnum = 2

    def sys_path(self, spec):
        return '/sys/devices/pci0000:00/0000:00:14.0/usb1/1-' + spec['port']

    def plug(self, name):
        spec = self.specs[name]
        devnum = self.next_devnum
        self.next_devnum += 1
        device = Device(spec, devnum)
        node = 'bus/usb/001/%03d' % devnum
        port = '1-' + spec['port']
        interface = spec.get('interface', 0)
        iface_class = {'hid-keyboard': '03', 'hid-vendor': '03', 'bulk': '0a'}[spec['kind']]
        driver = '' if spec['kind'] == 'bulk' else 'E: DRIVER=usbhid\n'
        text = (
            'P: /devices/pci0000:00/0000:00:14.0/usb1/%s\n'
            'N: %s\n'
            'E: DEVNAME=/dev/%s\n'
            'E: DEVTYPE=usb_device\n'
            'E: SUBSYSTEM=usb\n'
            'E: BUSNUM=001\n'
            'E: DEVNUM=%03d\n'
            'E: PRODUCT=%x/%x/100\n'
            'A: idVendor=%04x\\n\n'
            'A: idProduct=%04x\\n\n'
            'A: busnum=1\\n\n'
            'A: devnum=%d\\n\n'
            'A: speed=12\\n\n'
            'A: bConfigurationValue=1\\n\n'
            'A: bNumConfigurations=1\\n\n'
            'A: serial=%s\\n\n'
            'H: descriptors=%s\n'
            '\n'
            'P: /devices/pci0000:00/0000:00:14.0/usb1/%s/%s:1.%d\n'
            'E: DEVTYPE=usb_interface\n'
            'E: SUBSYSTEM=usb\n'
            '%s'
            'A: bInterfaceNumber=%02x\\n\n'
            'A: bInterfaceClass=%s\\n\n'
        ) % (port, node, node, devnum, spec['vid'], spec['pid'], spec['vid'], spec['pid'], devnum,
             spec.get('serial', 'EMU-' + name),
             (device.device_descriptor + device.config_descriptor).hex(),
             port, port, interface, driver, interface, iface_class)
        # The ioctl socket first: add_from_string sends the "add" uevent, and a host that opens
        # the node before its handler exists would talk to a plain file.
        self.testbed.attach_ioctl('/dev/' + node, device)
        self.testbed.add_from_string(text)
        self.devices[name] = device
        emit('plugged', device=name, devnum=devnum)

    def unplug(self, name):
        device = self.devices.pop(name, None)
        if device is None:
            emit('error', message='unplug: %s is not plugged' % name)
            return
        device.unplug()
        port = '1-' + device.spec['port']
        interface = '%s/%s:1.%d' % (self.sys_path(device.spec), port, device.spec.get('interface', 0))
        self.testbed.uevent(interface, 'remove')
        self.testbed.uevent(self.sys_path(device.spec), 'remove')
        self.testbed.remove_device(interface)
        self.testbed.remove_device(self.sys_path(device.spec))
        emit('unplugged', device=name)

    def run(self):
        for name, spec in self.specs.items():
            if spec.get('plugged', True):
                self.plug(name)
        emit('ready', umockdev_dir=self.testbed.get_root_dir())
        for line in sys.stdin:
            words = line.split()
            if not words:
                continue
            command = words[0]
            try:
                if command == 'report':
                    self.devices[words[1]].queue_report(bytes.fromhex(''.join(words[2:])))
                elif command == 'unplug':
                    self.unplug(words[1])
                elif command == 'replug':
                    self.plug(words[1])
                elif command == 'quit':
                    break
                else:
                    emit('error', message='unknown command: ' + line.strip())
                    continue
                emit('done', command=line.strip())
            except Exception as error:
                emit('error', message='%s: %r' % (line.strip(), error))


if __name__ == '__main__':
    Emulator(json.loads(sys.argv[1])).run()
