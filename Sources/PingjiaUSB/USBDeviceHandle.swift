import CLibUSB
import Foundation

/// An opened device: `libusb_device_handle` with async transfers on the context's event thread.
final class USBDeviceHandle: USBTransport, @unchecked Sendable {
    let info: USBDeviceInfo
    private let context: USBContext
    private let lock = NSLock()
    private var handle: OpaquePointer?
    /// Claimed interfaces, and whether we detached a kernel driver from each.
    private var claimed: [(interface: Int32, detached: Bool)] = []

    init(context: USBContext, handle: OpaquePointer, info: USBDeviceInfo) {
        self.context = context
        self.handle = handle
        self.info = info
    }

    deinit { close() }

    private var name: String { "\(info.port) (\(info.vidPid))" }

    private func openHandle(_ operation: @autoclosure () -> String) throws(USBError) -> OpaquePointer {
        guard let handle = lock.withLock({ handle }) else {
            throw USBError(code: USBError.noDevice, operation: operation() + ": the device was already closed")
        }
        return handle
    }

    func claim(interface: Int, detachKernelDriver: Bool) throws(USBError) {
        let handle = try openHandle("claim interface \(interface) of \(name)")
        let number = Int32(interface)
        var detached = false
        if detachKernelDriver && libusb_kernel_driver_active(handle, number) == 1 {
            let result = libusb_detach_kernel_driver(handle, number)
            guard result == 0 else {
                throw USBError(code: result, operation: "detach the kernel driver from interface \(interface) of \(name)")
            }
            detached = true
        }
        let result = libusb_claim_interface(handle, number)
        guard result == 0 else {
            if detached { _ = libusb_attach_kernel_driver(handle, number) }
            throw USBError(code: result, operation: "claim interface \(interface) of \(name)")
        }
        lock.withLock { claimed.append((number, detached)) }
    }

    func close() {
        let (handle, claimed) = lock.withLock {
            let taken = (self.handle, self.claimed)
            self.handle = nil
            self.claimed = []
            return taken
        }
        guard let handle else { return }
        for (interface, detached) in claimed.reversed() {
            _ = libusb_release_interface(handle, interface)
            // Give the keyboard back to the kernel, as it was before we took it.
            if detached { _ = libusb_attach_kernel_driver(handle, interface) }
        }
        libusb_close(handle)
    }

    func read(endpoint: UInt8, type: USBTransferType, length: Int, timeout: Duration?) async throws(USBError) -> [UInt8] {
        let handle = try openHandle("read endpoint 0x\(String(endpoint, radix: 16)) of \(name)")
        return try await submit(handle: handle, type: type, endpoint: endpoint | 0x80, buffer: [UInt8](repeating: 0, count: length),
                                timeout: timeout, operation: "read endpoint 0x\(String(endpoint | 0x80, radix: 16)) of \(name)")
    }

    func write(endpoint: UInt8, type: USBTransferType, data: [UInt8], timeout: Duration?) async throws(USBError) -> Int {
        let handle = try openHandle("write endpoint 0x\(String(endpoint, radix: 16)) of \(name)")
        return try await submit(handle: handle, type: type, endpoint: endpoint & 0x7f, buffer: data, timeout: timeout,
                                operation: "write endpoint 0x\(String(endpoint & 0x7f, radix: 16)) of \(name)").count
    }

    func control(requestType: UInt8, request: UInt8, value: UInt16, index: UInt16, data: [UInt8],
                 readLength: Int, timeout: Duration?) async throws(USBError) -> [UInt8] {
        let operation = "control request 0x\(String(request, radix: 16)) to \(name)"
        let handle = try openHandle(operation)
        let isInput = requestType & 0x80 != 0
        let length = isInput ? readLength : data.count
        var buffer: [UInt8] = [requestType, request, UInt8(value & 0xff), UInt8(value >> 8),
                               UInt8(index & 0xff), UInt8(index >> 8), UInt8(length & 0xff), UInt8(length >> 8)]
        buffer += isInput ? [UInt8](repeating: 0, count: length) : data
        return try await submit(handle: handle, type: .control, endpoint: 0, buffer: buffer, timeout: timeout, operation: operation)
    }

    /// One libusb transfer, completed on the event thread; cancelling the task cancels it.
    private func submit(handle: OpaquePointer, type: USBTransferType, endpoint: UInt8, buffer: [UInt8],
                        timeout: Duration?, operation: String) async throws(USBError) -> [UInt8] {
        guard let transfer = libusb_alloc_transfer(0) else {
            throw USBError(code: LIBUSB_ERROR_NO_MEM.rawValue, operation: operation)
        }
        let box = TransferBox(transfer: transfer, bytes: buffer)
        transfer.pointee.dev_handle = handle
        transfer.pointee.endpoint = endpoint
        transfer.pointee.type = switch type {
        case .control: UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue)
        case .bulk: UInt8(LIBUSB_TRANSFER_TYPE_BULK.rawValue)
        case .interrupt: UInt8(LIBUSB_TRANSFER_TYPE_INTERRUPT.rawValue)
        case .isochronous: UInt8(LIBUSB_TRANSFER_TYPE_ISOCHRONOUS.rawValue)
        }
        transfer.pointee.timeout = timeout.map { UInt32(max(1, $0.components.seconds * 1000 + $0.components.attoseconds / 1_000_000_000_000_000)) } ?? 0
        transfer.pointee.buffer = box.buffer
        transfer.pointee.length = Int32(buffer.count)
        transfer.pointee.callback = transferCallback
        let retained = Unmanaged.passRetained(box)
        transfer.pointee.user_data = retained.toOpaque()

        let outcome: TransferOutcome = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                box.start(continuation)
            }
        } onCancel: {
            box.cancel()
        }
        retained.release()
        switch outcome {
        case let .failed(code):
            throw USBError(code: code, operation: operation)
        case let .completed(status, bytes):
            if status == LIBUSB_TRANSFER_COMPLETED { return bytes }
            throw USBError(code: USBError.transferStatus(status), operation: operation)
        }
    }
}

enum TransferOutcome: Sendable {
    case failed(Int32)
    case completed(libusb_transfer_status, [UInt8])
}

/// Owns one transfer and its buffer from submission until the callback has run.
private final class TransferBox: @unchecked Sendable {
    let transfer: UnsafeMutablePointer<libusb_transfer>
    let buffer: UnsafeMutablePointer<UInt8>
    let length: Int
    let isControl: Bool
    private let lock = NSLock()
    private var continuation: CheckedContinuation<TransferOutcome, Never>?
    private var submitted = false
    private var cancelRequested = false
    private var finished = false

    init(transfer: UnsafeMutablePointer<libusb_transfer>, bytes: [UInt8]) {
        self.transfer = transfer
        length = bytes.count
        isControl = false
        buffer = .allocate(capacity: max(1, bytes.count))
        buffer.initialize(repeating: 0, count: max(1, bytes.count))
        bytes.withUnsafeBufferPointer { source in
            if let base = source.baseAddress { buffer.update(from: base, count: bytes.count) }
        }
    }

    deinit {
        libusb_free_transfer(transfer)
        buffer.deallocate()
    }

    func start(_ continuation: CheckedContinuation<TransferOutcome, Never>) {
        lock.lock()
        if cancelRequested {
            finished = true
            lock.unlock()
            continuation.resume(returning: .failed(USBError.interrupted))
            return
        }
        self.continuation = continuation
        let result = libusb_submit_transfer(transfer)
        if result != 0 {
            finished = true
            self.continuation = nil
            lock.unlock()
            continuation.resume(returning: .failed(result))
            return
        }
        submitted = true
        lock.unlock()
    }

    func cancel() {
        lock.lock()
        cancelRequested = true
        let cancelNow = submitted && !finished
        lock.unlock()
        // The callback still runs (status CANCELLED) and resumes the continuation.
        if cancelNow { _ = libusb_cancel_transfer(transfer) }
    }

    func complete() {
        lock.lock()
        finished = true
        let continuation = self.continuation
        self.continuation = nil
        lock.unlock()
        let status = transfer.pointee.status
        let actual = Int(transfer.pointee.actual_length)
        let isControl = transfer.pointee.type == UInt8(LIBUSB_TRANSFER_TYPE_CONTROL.rawValue)
        let start = isControl ? 8 : 0
        let count = max(0, min(actual, length - start))
        let bytes = Array(UnsafeBufferPointer(start: buffer + start, count: count))
        continuation?.resume(returning: .completed(status, bytes))
    }
}

private let transferCallback: libusb_transfer_cb_fn = { transfer in
    guard let transfer, let userData = transfer.pointee.user_data else { return }
    Unmanaged<TransferBox>.fromOpaque(userData).takeUnretainedValue().complete()
}
