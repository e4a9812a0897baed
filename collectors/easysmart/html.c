#include "collectors/easysmart/html.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/tree.h>

static void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        snprintf(err, errlen, "%s", msg);
}

/* action="/logon.cgi", "logon.cgi", "http://host/logon.cgi?x": the last path segment. */
static bool is_logon_action(const char *a)
{
    size_t n = strcspn(a, "?#");
    while (n > 0 && (a[n - 1] == ' ' || a[n - 1] == '\t' || a[n - 1] == '\n' || a[n - 1] == '\r'))
        n--;
    static const char name[] = "logon.cgi";
    size_t k = sizeof name - 1;
    if (n < k || strncasecmp(a + n - k, name, k) != 0)
        return false;
    if (n == k)
        return true;
    char before = a[n - k - 1];
    return before == '/' || before == ' ' || before == '\t' || before == '\n' || before == '\r';
}

static int add_script(struct es_html *h, xmlNode *n)
{
    if (h->n_scripts >= ES_HTML_MAX_SCRIPTS)
        return 0; /* later scripts are not data: ignore them */
    xmlChar *content = xmlNodeGetContent(n);
    if (!content)
        content = xmlStrdup((const xmlChar *)"");
    if (!content)
        return -1;
    if (!h->scripts) {
        h->scripts = calloc(ES_HTML_MAX_SCRIPTS, sizeof *h->scripts);
        if (!h->scripts) {
            xmlFree(content);
            return -1;
        }
    }
    h->scripts[h->n_scripts].text = (char *)content;
    h->scripts[h->n_scripts].len = strlen((const char *)content);
    h->n_scripts++;
    return 0;
}

/* Depth-first, document order, without recursion. */
static int walk(xmlDoc *doc, struct es_html *h)
{
    xmlNode *n = doc->children;
    while (n) {
        bool descend = true;
        if (n->type == XML_ELEMENT_NODE && n->name) {
            if (xmlStrcasecmp(n->name, (const xmlChar *)"script") == 0) {
                if (add_script(h, n) != 0)
                    return -1;
                descend = false;
            } else if (xmlStrcasecmp(n->name, (const xmlChar *)"form") == 0) {
                xmlChar *action = xmlGetProp(n, (const xmlChar *)"action");
                if (action && is_logon_action((const char *)action))
                    h->logon_form = true;
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
    return 0;
}

int es_html_parse(const char *text, size_t len, struct es_html *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    if (len > ES_HTML_MAX_BYTES) {
        set_err(err, errlen, "page larger than 1 MiB");
        return -1;
    }
    if (len == 0) {
        set_err(err, errlen, "empty page");
        return -1;
    }
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
    int rc = walk(doc, out);
    xmlFreeDoc(doc);
    if (rc != 0) {
        es_html_free(out);
        set_err(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

void es_html_free(struct es_html *h)
{
    for (size_t i = 0; i < h->n_scripts; i++)
        xmlFree(h->scripts[i].text);
    free(h->scripts);
    memset(h, 0, sizeof *h);
}
