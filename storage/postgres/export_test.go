package postgres

// ListenerPID returns the server process id of db's listener connection,
// so that a test can terminate that one connection.
func ListenerPID(db *DB) uint32 { return db.listenerPID.Load() }

// Listening reports whether db's listener is up (its status cache on).
func Listening(db *DB) bool { return db.cache.on.Load() }
