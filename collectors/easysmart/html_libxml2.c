/* The reference extraction (see html.h): libxml2's HTML parser builds a tree, a walk in
 * document order collects the scripts and the logon form. Kept for the differential tests
 * and the benchmark; the daemon reads pages with es_html_scan. */
#include "collectors/easysmart/html.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

struct collect {
    struct es_html *h;
    size_t off[ES_HTML_MAX_SCRIPTS];
    size_t cap;
};

static int add_script(struct collect *c, xmlNode *n)
{
    struct es_html *h = c->h;
    if (h->n_scripts >= ES_HTML_MAX_SCRIPTS)
        return 0; /* later scripts are not data: ignore them */
    xmlChar *content = xmlNodeGetContent(n);
    size_t len = content ? strlen((const char *)content) : 0;
    if (len > SIZE_MAX / 2 - h->arena_len) {
        xmlFree(content);
        return -1;
    }
    if (h->arena_len + len + 1 > c->cap) {
        size_t ncap = c->cap ? c->cap : 4096;
        while (ncap < h->arena_len + len + 1)
            ncap *= 2;
        char *p = realloc(h->arena, ncap);
        if (!p) {
            xmlFree(content);
            return -1;
        }
        h->arena = p;
        c->cap = ncap;
    }
    if (len)
        memcpy(h->arena + h->arena_len, content, len);
    h->arena[h->arena_len + len] = '\0';
    xmlFree(content);
    c->off[h->n_scripts] = h->arena_len;
    h->scripts[h->n_scripts].len = len;
    h->n_scripts++;
    h->arena_len += len + 1;
    return 0;
}

/* Depth-first, document order, without recursion. */
static int walk(xmlDoc *doc, struct collect *c)
{
    xmlNode *n = doc->children;
    while (n) {
        bool descend = true;
        if (n->type == XML_ELEMENT_NODE && n->name) {
            if (xmlStrcasecmp(n->name, (const xmlChar *)"script") == 0) {
                if (add_script(c, n) != 0)
                    return -1;
                descend = false;
            } else if (xmlStrcasecmp(n->name, (const xmlChar *)"form") == 0) {
                xmlChar *action = xmlGetProp(n, (const xmlChar *)"action");
                if (action &&
                    es_html_is_logon_action((const char *)action, strlen((const char *)action)))
                    c->h->logon_form = true;
                xmlFree(action);
            }
        }
        if (descend && n->type == XML_ELEMENT_NODE && n->children) {
            n = n->children;
            continue;
        }
        while (n && !n->next) {
            n = n->parent;
            if (n && (xmlDoc *)n == doc)
                n = NULL;
        }
        if (n)
            n = n->next;
    }
    for (size_t i = 0; i < c->h->n_scripts; i++)
        c->h->scripts[i].text = c->h->arena + c->off[i];
    return 0;
}

int es_html_parse_libxml2(const char *text, size_t len, struct es_html *out, char *err,
                          size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (es_html_check_size(len, err, errlen) < 0)
        return -1;
    /* libxml2 stops at a NUL; a space keeps the rest of the page readable */
    char *copy = malloc(len);
    if (!copy) {
        set_err(err, errlen, "out of memory");
        return -1;
    }
    for (size_t i = 0; i < len; i++)
        copy[i] = text[i] ? text[i] : ' ';
    htmlDocPtr doc = htmlReadMemory(copy, (int)len, NULL, NULL,
                                    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                        HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC);
    free(copy);
    if (!doc) {
        set_err(err, errlen, "not parsable as HTML");
        return -1;
    }
    struct collect c = {.h = out};
    int rc = walk(doc, &c);
    xmlFreeDoc(doc);
    if (rc != 0) {
        es_html_free(out);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}
