/*
 * admin_client.c: placeholder.
 */
