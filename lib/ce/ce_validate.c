/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Checks that need the whole deployment, or both files. What each loader
 * can see on its own (types, ranges, required keys, duplicates within a
 * list of items) is checked there. Here, and nothing more:
 *
 * deployment (reported against dep->path, at the line of the group):
 *   - lcores: at least one cfe and one dfe lcore; no lcore twice in the cfe
 *     list nor in the dfe list. An lcore in both lists, or the ce lcore in
 *     either, is fine: roles may share an lcore (CONTRACT.md).
 *   - ports: at least one unprotected and one protected port.
 *   - crypto: at least one device.
 * policy database (reported against db->path, at the item's line):
 *   - every route and neighbour names a port of the deployment;
 *   - a route with a next hop (via) has a neighbour entry for that address
 *     on the route's port (spigate does not resolve addresses itself);
 *   - the inbound protect policies naming one SA are at most
 *     CE_MAX_SA_SELECTORS (they become its selectors); the protect policies
 *     naming a tunnel SA (either direction) are all of one IP family:
 *     lib/ipsec handles one inner family per SA.
 *
 * Not checked: whether a tunnel SA's local address is one of the
 * unprotected ports' addresses (there is no warning channel, and an
 * address may be added later).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ce_config.h"

static int lcore_dups(const struct ce_deploy *dep, struct ce_diag *diag,
		      const char *list, const unsigned *ids, unsigned n)
{
	unsigned i, j;
	int rc = 0;

	if (n == 0) {
		ce_diag_add(diag, dep->path, dep->lcores_line,
			    "lcores.%s: at least one lcore is needed", list);
		return -EINVAL;
	}
	for (i = 1; i < n; i++) {
		for (j = 0; j < i; j++) {
			if (ids[i] != ids[j])
				continue;
			ce_diag_add(diag, dep->path, dep->lcores_line,
				    "lcores.%s: lcore %u listed twice", list,
				    ids[i]);
			rc = -EINVAL;
			break;
		}
	}
	return rc;
}

static int check_deploy(const struct ce_deploy *dep, struct ce_diag *diag)
{
	unsigned i, n_prot = 0, n_unprot = 0;
	int rc = 0;

	if (lcore_dups(dep, diag, "cfe", dep->cfe_lcores, dep->n_cfe) < 0)
		rc = -EINVAL;
	if (lcore_dups(dep, diag, "dfe", dep->dfe_lcores, dep->n_dfe) < 0)
		rc = -EINVAL;
	for (i = 0; i < dep->n_ports; i++) {
		if (dep->ports[i].role == CE_PORT_PROTECTED)
			n_prot++;
		else
			n_unprot++;
	}
	if (n_unprot == 0) {
		ce_diag_add(diag, dep->path, dep->ports_line,
			    "ports: no port with role \"unprotected\"");
		rc = -EINVAL;
	}
	if (n_prot == 0) {
		ce_diag_add(diag, dep->path, dep->ports_line,
			    "ports: no port with role \"protected\"");
		rc = -EINVAL;
	}
	if (dep->n_cryptodevs == 0) {
		ce_diag_add(diag, dep->path, dep->crypto_line,
			    "crypto.devices: at least one device is needed");
		rc = -EINVAL;
	}
	return rc;
}

static const struct ce_port_cfg *find_port(const struct ce_deploy *dep,
					   const char *name)
{
	unsigned i;

	for (i = 0; i < dep->n_ports; i++)
		if (strcmp(dep->ports[i].name, name) == 0)
			return &dep->ports[i];
	return NULL;
}

static int check_db(const struct ce_deploy *dep, const struct ce_policydb *db,
		    struct ce_diag *diag)
{
	char buf[64];
	unsigned i, j;
	int rc = 0;

	for (i = 0; i < db->n_neighbors; i++) {
		const struct ce_neigh_cfg *n = &db->neighbors[i];

		if (find_port(dep, n->port) == NULL) {
			ce_diag_add(diag, db->path, n->line,
				    "neighbors[%u].port: no port named \"%s\" in %s",
				    i, n->port, dep->path);
			rc = -EINVAL;
		}
	}
	for (i = 0; i < db->n_routes; i++) {
		const struct ce_route_cfg *r = &db->routes[i];

		if (find_port(dep, r->port) == NULL) {
			ce_diag_add(diag, db->path, r->line,
				    "routes[%u].port: no port named \"%s\" in %s",
				    i, r->port, dep->path);
			rc = -EINVAL;
			continue;
		}
		if (!r->has_via)
			continue;
		for (j = 0; j < db->n_neighbors; j++) {
			const struct ce_neigh_cfg *n = &db->neighbors[j];

			if (strcmp(n->port, r->port) == 0 &&
			    memcmp(&n->ip, &r->via, sizeof(r->via)) == 0)
				break;
		}
		if (j == db->n_neighbors) {
			ce_diag_add(diag, db->path, r->line,
				    "routes[%u].via: no neighbor %s on port %s",
				    i, sg_addr_fmt(&r->via, buf, sizeof(buf)),
				    r->port);
			rc = -EINVAL;
		}
	}
	return rc;
}

/* The inbound protect policies that name an SA become its selectors. */
static int check_selectors(const struct ce_policydb *db, struct ce_diag *diag)
{
	unsigned i, j;
	int rc = 0;

	for (i = 0; i < db->n_sas; i++) {
		const struct ce_sa_cfg *s = &db->sas[i];
		const struct ce_policy_cfg *first = NULL;
		unsigned n = 0;

		for (j = 0; j < db->n_policies; j++) {
			const struct ce_policy_cfg *p = &db->policies[j];

			if (p->dir != s->dir || p->action != CE_ACT_PROTECT ||
			    !p->has_sa || p->sa_spi != s->spi)
				continue;
			if (++n == CE_MAX_SA_SELECTORS + 1 && s->dir == CE_DIR_IN) {
				ce_diag_add(diag, db->path, p->line,
					    "policies[%u]: SA 0x%x is named by more "
					    "than %u inbound protect policies", j,
					    s->spi, CE_MAX_SA_SELECTORS);
				rc = -EINVAL;
			}
			if (first == NULL) {
				first = p;
			} else if (s->mode == CE_MODE_TUNNEL &&
				   p->src.addr.family != first->src.addr.family) {
				ce_diag_add(diag, db->path, p->line,
					    "policies[%u]: SA 0x%x carries IPv%u "
					    "traffic (policy at line %d); a tunnel SA "
					    "carries one inner IP family", j, s->spi,
					    first->src.addr.family, first->line);
				rc = -EINVAL;
			}
		}
	}
	return rc;
}

/* Outbound SAs are found by SPI alone (the policies name an SPI). */
static int check_out_spis(const struct ce_policydb *db, struct ce_diag *diag)
{
	unsigned i, j;
	int rc = 0;

	for (i = 0; i < db->n_sas; i++) {
		if (db->sas[i].dir != CE_DIR_OUT)
			continue;
		for (j = 0; j < i; j++) {
			if (db->sas[j].dir != CE_DIR_OUT ||
			    db->sas[j].spi != db->sas[i].spi)
				continue;
			ce_diag_add(diag, db->path, db->sas[i].line,
				    "sas[%u]: outbound spi 0x%x already at line %d "
				    "(outbound SAs are found by SPI alone)", i,
				    db->sas[i].spi, db->sas[j].line);
			rc = -EINVAL;
			break;
		}
	}
	return rc;
}

int ce_config_validate(const struct ce_deploy *dep, const struct ce_policydb *db,
		       struct ce_diag *diag)
{
	int rc;

	if (dep == NULL || diag == NULL)
		return -EINVAL;
	rc = check_deploy(dep, diag);
	if (db != NULL && check_db(dep, db, diag) < 0)
		rc = -EINVAL;
	if (db != NULL && check_selectors(db, diag) < 0)
		rc = -EINVAL;
	if (db != NULL && check_out_spis(db, diag) < 0)
		rc = -EINVAL;
	return rc;
}
