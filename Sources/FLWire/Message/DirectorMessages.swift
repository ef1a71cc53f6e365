extension MessageRegistry { static let directorMessages: [any WireMessage.Type] = [] }
