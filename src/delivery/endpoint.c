/* endpoint.c: placeholder. */
