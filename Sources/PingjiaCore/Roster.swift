/// A member of staff who serves at a window (窗口工作人员), identified by 工号.
public struct Staff: Sendable, Hashable, Codable {
    public var id: String
    public var name: String
    public var windowId: String
    /// A file name under the state directory's `photos/`, shown on the window display.
    public var photo: String?
    /// 事项编码 of the matters this person handles.
    public var matters: [String]

    public init(id: String, name: String, windowId: String, photo: String? = nil, matters: [String] = []) {
        self.id = id
        self.name = name
        self.windowId = windowId
        self.photo = photo
        self.matters = matters
    }
}

/// A service window (窗口) of the hall.
public struct ServiceWindow: Sendable, Hashable, Codable {
    public var id: String
    public var name: String

    public init(id: String, name: String) {
        self.id = id
        self.name = name
    }
}
