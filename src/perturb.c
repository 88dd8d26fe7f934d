/* perturb.c — placeholder until the perturbation methods land. */
#include "explain.h"

attrib_status attrib_perturb_run(explain_ctx *c) {
    return attrib_fail(ATTRIB_E_UNSUPPORTED, "method %s is not implemented yet", attrib_method_name(c->opt.method));
}
