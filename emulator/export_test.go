package emulator

// SetExtensionStartedHook sets a function run right after an extension's
// process started, before the emulator records it; nil removes it.
func SetExtensionStartedHook(f func()) { testHookExtensionStarted = f }
