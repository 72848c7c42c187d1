import Foundation
import Logging
import PingjiaUSB

/// What happened on the rating devices, in the order it happened on each device.
public struct DeviceEvent: Sendable {
    public enum Kind: Sendable {
        /// A device matched a profile and is claimed (kernel driver detached).
        case attached
        /// It was unplugged or failed; it is driven again when it comes back.
        case detached(reason: String)
        case input(DeviceInput)
        /// A report or frame that could not be used (logged; the device keeps going).
        case problem(String)
        /// A device present on the bus that no profile matches.
        case unmatched
    }

    public let device: USBDeviceInfo
    public let profile: DeviceProfile?
    public let kind: Kind
}

/// Drives every USB device a profile matches: hotplug arrivals are opened and claimed, each device
/// gets one reading task, and departures end it. A device that goes away mid-read is simply taken
/// up again on its next arrival, in the same process.
public actor DeviceManager {
    private let bus: any USBBus
    private let profiles: ProfileSet
    private let logger: Logger
    private var drivers: [USBDeviceID: (task: Task<Void, Never>, transport: (any USBTransport)?, profile: DeviceProfile)] = [:]
    /// How long to keep retrying `LIBUSB_ERROR_ACCESS` after an arrival.
    public var accessRetry: Duration = .seconds(5)

    public init(bus: any USBBus, profiles: ProfileSet, logger: Logger) {
        self.bus = bus
        self.profiles = profiles
        self.logger = logger
    }

    /// Runs until the calling task is cancelled. `handler` is awaited for each event before the
    /// device's next report is read, so presses are handled one at a time, in order, and a
    /// press is never read twice; the device holds the next press until it is asked for it.
    public func run(_ handler: @escaping @Sendable (DeviceEvent) async -> Void) async {
        let events = bus.hotplugEvents()
        for await event in events {
            if Task.isCancelled { break }
            switch event {
            case let .arrived(info):
                arrived(info, handler)
            case let .left(id):
                // The pending read fails with LIBUSB_ERROR_NO_DEVICE on its own; cancelling
                // covers a device that went away between reads.
                drivers[id]?.task.cancel()
            }
        }
        for driver in drivers.values { driver.task.cancel() }
        for driver in drivers.values { await driver.task.value }
        drivers = [:]
    }

    /// Sends the profile's feedback command `name` (`thanks`, `error`, `prompt`, …) to a device,
    /// filling `{staffName}`-style placeholders from `values` for serial-frame terminals.
    /// Returns false when the profile has no such command.
    @discardableResult
    public func send(_ name: String, to id: USBDeviceID, values: [String: String] = [:]) async throws(USBError) -> Bool {
        guard let driver = drivers[id], let transport = driver.transport else {
            throw USBError(code: USBError.noDevice, operation: "send \(name) to \(id)")
        }
        let profile = driver.profile
        let timeout: Duration = .seconds(2)
        switch profile.family {
        case .serialFrame:
            guard let template = profile.commands[name], let out = profile.outEndpoint else { return false }
            let frame = profile.frameStart + Array(renderTemplate(template, values: values).utf8) + profile.frameEnd
            _ = try await transport.write(endpoint: out, type: .bulk, data: frame, timeout: timeout)
        case .hidKeyboard, .hidReport:
            guard let bytes = profile.feedback[name] else { return false }
            switch profile.feedbackPath {
            case .setReport:
                // HID SET_REPORT, report type Output (2); with numbered reports the first byte is the id.
                let reportId = profile.family == .hidReport ? UInt16(bytes[0]) : 0
                _ = try await transport.control(requestType: 0x21, request: 0x09, value: 0x0200 | reportId,
                                                index: UInt16(profile.match.interface), data: bytes, readLength: 0, timeout: timeout)
            case .interruptOut:
                _ = try await transport.write(endpoint: profile.feedbackEndpoint ?? 0x02, type: .interrupt, data: bytes, timeout: timeout)
            }
        }
        return true
    }

    private func arrived(_ info: USBDeviceInfo, _ handler: @escaping @Sendable (DeviceEvent) async -> Void) {
        guard let profile = profiles.profile(vendorId: info.vendorId, productId: info.productId, serial: info.serial,
                                             port: info.port, interfaces: info.interfaces.map(\.number)) else {
            Task { await handler(DeviceEvent(device: info, profile: nil, kind: .unmatched)) }
            return
        }
        drivers[info.id]?.task.cancel()
        let task = Task { [weak self] in
            await self?.drive(info, profile, handler)
            return
        }
        drivers[info.id] = (task, nil, profile)
    }

    private func setTransport(_ transport: any USBTransport, for id: USBDeviceID) {
        drivers[id]?.transport = transport
    }

    private func finished(_ id: USBDeviceID) {
        drivers[id] = nil
    }

    private func drive(_ info: USBDeviceInfo, _ profile: DeviceProfile, _ handler: @escaping @Sendable (DeviceEvent) async -> Void) async {
        var logger = self.logger
        logger[metadataKey: "device"] = "\(info.port) \(info.vidPid)"
        logger[metadataKey: "profile"] = "\(profile.name)"
        let transport: any USBTransport
        do {
            transport = try await bus.open(info.id, accessRetry: accessRetry)
            try transport.claim(interface: profile.match.interface, detachKernelDriver: profile.detachKernelDriver)
        } catch {
            logger.error("cannot use the device", metadata: ["reason": "\(error)"])
            await handler(DeviceEvent(device: info, profile: profile, kind: .detached(reason: error.description)))
            finished(info.id)
            return
        }
        setTransport(transport, for: info.id)
        logger.info("device attached")
        await handler(DeviceEvent(device: info, profile: profile, kind: .attached))

        let interface = info.interfaces.first { $0.number == profile.match.interface }
        let inEndpoint = profile.inEndpoint.flatMap { address in interface?.endpoints.first { $0.address == address } }
            ?? interface?.endpoints.first { $0.isInput && ($0.type == .interrupt || $0.type == .bulk) }
        guard let inEndpoint else {
            let reason = "interface \(profile.match.interface) has no IN endpoint to read: check the profile's endpoint"
            logger.error("cannot use the device", metadata: ["reason": "\(reason)"])
            await handler(DeviceEvent(device: info, profile: profile, kind: .detached(reason: reason)))
            transport.close()
            finished(info.id)
            return
        }
        let length = profile.family == .serialFrame ? max(64, inEndpoint.maxPacketSize) : max(profile.reportLength, inEndpoint.maxPacketSize)
        var decoder = makeDecoder(for: profile)
        var lastPress: [String: ContinuousClock.Instant] = [:]
        let clock = ContinuousClock()
        var reason = "stopped"
        while !Task.isCancelled {
            let bytes: [UInt8]
            do {
                bytes = try await transport.read(endpoint: inEndpoint.address, type: inEndpoint.type, length: length, timeout: nil)
            } catch {
                reason = error.isNoDevice ? "unplugged" : (error.code == USBError.interrupted ? "stopped" : error.description)
                if !error.isNoDevice && error.code != USBError.interrupted {
                    logger.error("reading the device failed", metadata: ["reason": "\(error)"])
                }
                break
            }
            let decoded = decoder.decode(bytes)
            for problem in decoded.problems {
                logger.warning("report ignored", metadata: ["problem": "\(problem)"])
                await handler(DeviceEvent(device: info, profile: profile, kind: .problem(problem)))
            }
            for input in decoded.inputs {
                let now = clock.now
                if profile.debounceMilliseconds > 0, let last = lastPress[input.key],
                   now - last < .milliseconds(profile.debounceMilliseconds) {
                    logger.debug("bounce ignored", metadata: ["key": "\(input.key)"])
                    continue
                }
                lastPress[input.key] = now
                await handler(DeviceEvent(device: info, profile: profile, kind: .input(input)))
            }
        }
        transport.close()
        finished(info.id)
        logger.info("device detached", metadata: ["reason": "\(reason)"])
        await handler(DeviceEvent(device: info, profile: profile, kind: .detached(reason: reason)))
    }
}
