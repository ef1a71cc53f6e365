// FLRoles
