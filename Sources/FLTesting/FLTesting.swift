// FLTesting
