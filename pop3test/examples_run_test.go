package pop3test_test

import "testing"

// The examples' tests, run here because a file that is a whole-file
// example may hold no test function.

func TestFakeBackend(t *testing.T) { testFakeBackend(t) }

func TestRetrieve(t *testing.T) { testRetrieve(t) }

func TestAppServer(t *testing.T) { testAppServer(t) }
