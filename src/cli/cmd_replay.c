/*
 * cmd_replay.c: `deskhook replay`: sends deliveries again through a running
 * gateway's admin API (docs/delivery.md, "Replay from the command line").
 *
 *   deskhook replay msg_…                     POST /api/deliveries/{id}/replay
 *   deskhook replay --event evt_…             POST /api/events/{id}/replay
 *   deskhook replay --endpoint NAME [--state S] [--since T] [--until T]
 *                                             POST /api/endpoints/{name}/replay
 *
 * The command only builds the request; the gateway decides what may be
 * replayed. Exit status: 0 on a 2xx answer (printed on stdout), 1 on an error
 * answer or when the gateway cannot be reached, 2 on a usage error.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/admin_client.h"
#include "cli/cli.h"
#include "core/alloc.h"
#include "core/error.h"

#define DH__CMD "deskhook replay"

enum { DH__O_EVENT = 1, DH__O_ENDPOINT, DH__O_STATE, DH__O_SINCE, DH__O_UNTIL };

static void dh__replay_usage(FILE *f)
{
    fprintf(f,
            "usage: deskhook replay [options] MSG_ID\n"
            "       deskhook replay [options] --event EVT_ID\n"
            "       deskhook replay [options] --endpoint NAME [--state S] [--since T] "
            "[--until T]\n"
            "\n"
            "Sends deliveries again through a running gateway's admin API and prints its\n"
            "JSON answer.\n"
            "\n"
            "  MSG_ID                one delivery (msg_…) back to pending, with a fresh\n"
            "                        attempt budget and the same webhook-id\n"
            "      --event ID        fan an event (evt_…) out again to every endpoint now\n"
            "                        subscribed to it\n"
            "      --endpoint NAME   replay an endpoint's deliveries (by name or id):\n"
            "      --state S           in state S (default dead)\n"
            "      --since T           from time T (ISO 8601 UTC, e.g. 2026-11-01T00:00:00Z)\n"
            "      --until T           up to time T\n" DH_CLI_ADMIN_HELP
            "  -h, --help            this help\n"
            "\n"
            "Exits 0 on success, 1 with the API's error code and message otherwise\n"
            "(or when the gateway cannot be reached), 2 on a usage error.\n");
}

/* A usage error: the reason, then the usage. Returns the exit status. */
static int dh__usage_error(const char *why)
{
    fprintf(stderr, DH__CMD ": %s\n\n", why);
    dh__replay_usage(stderr);
    return 2;
}

/* The request body of a bulk replay (free() it). */
static char *dh__bulk_body(const char *state, const char *since, const char *until)
{
    json_t *o = json_object();
    char *s;

    json_object_set_new(o, "state", json_string(state != NULL ? state : "dead"));
    if (since != NULL)
        json_object_set_new(o, "since", json_string(since));
    if (until != NULL)
        json_object_set_new(o, "until", json_string(until));
    s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    return s;
}

int dh_cli_replay(int argc, char **argv)
{
    static const struct option opts[] = {
        {"event", required_argument, NULL, DH__O_EVENT},
        {"endpoint", required_argument, NULL, DH__O_ENDPOINT},
        {"state", required_argument, NULL, DH__O_STATE},
        {"since", required_argument, NULL, DH__O_SINCE},
        {"until", required_argument, NULL, DH__O_UNTIL},
        {"admin-url", required_argument, NULL, DH_CLI_ADMIN_O_URL},
        {"token", required_argument, NULL, DH_CLI_ADMIN_O_TOKEN},
        {"config", required_argument, NULL, 'c'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct dh_cli_admin_opts ao = {NULL, NULL, NULL};
    struct dh_cli_admin_answer ans = {0};
    struct dh_cli_admin *admin = NULL;
    const char *event = NULL, *endpoint = NULL, *delivery = NULL;
    const char *state = NULL, *since = NULL, *until = NULL;
    char *esc = NULL, *path = NULL, *body = NULL;
    char err[1024];
    int c, n, rc;

    optind = 1;
    opterr = 0; /* the messages below name the command */
    while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
        if (dh_cli_admin_option(&ao, c, optarg))
            continue;
        switch (c) {
        case DH__O_EVENT:
            event = optarg;
            break;
        case DH__O_ENDPOINT:
            endpoint = optarg;
            break;
        case DH__O_STATE:
            state = optarg;
            break;
        case DH__O_SINCE:
            since = optarg;
            break;
        case DH__O_UNTIL:
            until = optarg;
            break;
        case 'h':
            dh__replay_usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, DH__CMD ": %s needs a value\n\n", argv[optind - 1]);
            dh__replay_usage(stderr);
            return 2;
        default:
            fprintf(stderr, DH__CMD ": unknown option %s\n\n", argv[optind - 1]);
            dh__replay_usage(stderr);
            return 2;
        }
    }
    if (argc - optind > 1)
        return dh__usage_error("give one delivery id at a time");
    if (argc - optind == 1)
        delivery = argv[optind];
    n = (delivery != NULL) + (event != NULL) + (endpoint != NULL);
    if (n == 0)
        return dh__usage_error("give a delivery id, --event ID or --endpoint NAME");
    if (n > 1)
        return dh__usage_error("give only one of a delivery id, --event ID and --endpoint NAME");
    if (endpoint == NULL && (state != NULL || since != NULL || until != NULL))
        return dh__usage_error("--state, --since and --until go with --endpoint NAME");
    if ((delivery != NULL && delivery[0] == '\0') || (event != NULL && event[0] == '\0') ||
        (endpoint != NULL && endpoint[0] == '\0') || (state != NULL && state[0] == '\0') ||
        (since != NULL && since[0] == '\0') || (until != NULL && until[0] == '\0'))
        return dh__usage_error("an id, name, state or time must not be empty");
    if (delivery != NULL && strncmp(delivery, "evt_", 4) == 0)
        return dh__usage_error("evt_… is an event id: use --event ID to replay an event");

    rc = dh_cli_admin_open(&ao, &admin, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, DH__CMD ": %s\n", err);
        return rc == DH_E_BAD_REQUEST ? 2 : 1;
    }
    if (delivery != NULL) {
        esc = dh_cli_admin_escape(delivery);
        path = dh_asprintf("/api/deliveries/%s/replay", esc);
    } else if (event != NULL) {
        esc = dh_cli_admin_escape(event);
        path = dh_asprintf("/api/events/%s/replay", esc);
    } else {
        esc = dh_cli_admin_escape(endpoint);
        path = dh_asprintf("/api/endpoints/%s/replay", esc);
        body = dh__bulk_body(state, since, until);
    }
    rc = dh_cli_admin_request(admin, "POST", path, body, &ans, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, DH__CMD ": %s\n", err);
        rc = 1;
        goto out;
    }
    rc = dh_cli_admin_report(DH__CMD, &ans);
out:
    dh_cli_admin_answer_free(&ans);
    dh_cli_admin_close(admin);
    free(body);
    free(path);
    free(esc);
    return rc;
}
