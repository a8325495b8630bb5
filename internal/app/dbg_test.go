package app_test

import "os"

func init() { if os.Getenv("E2E_LOG") != "" { logOut = os.Stderr } }
