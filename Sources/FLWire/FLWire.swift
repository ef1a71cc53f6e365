// FLWire
