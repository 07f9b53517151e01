/* gst-vss: public umbrella header of libgstvss-1.0
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One folder per concern, each with one prefix:
 *   core/     gst_vss_         embedding and dedup metas, frame identity
 *   embed/    gst_vss_embed_   the built-in model-free embedding
 *   aws/      gst_vss_aws_     credentials chain, SigV4, signed requests
 *   bedrock/  gst_vss_bedrock_ Titan embeddings
 *   valkey/   vss_valkey_      the Valkey client and valkey-search subset
 *   store/    vss_store_       object stores and the spool
 *   query/    gst_vss_query_   standing queries and searching stored frames
 */
#pragma once

#include "core/gstvssdedupmeta.h"
#include "core/gstvssframeid.h"
#include "core/gstvssmeta.h"
#include "core/gstvssrecord.h"
#include "core/gstvssbackoff.h"
#include "embed/gstvssembedlocal.h"
#include "aws/gstvssaws.h"
#include "aws/gstvssawscred.h"
#include "aws/gstvssawssigv4.h"
#include "bedrock/gstvssbedrock.h"
#include "valkey/gstvssvalkeyclient.h"
#include "valkey/gstvssvalkeysearch.h"
#include "valkey/gstvssvalkeyurl.h"
#include "valkey/gstvssvalkeyrecord.h"
#include "store/gstvssstore.h"
#include "store/gstvssstorespool.h"
#include "query/gstvssqueryset.h"
#include "query/gstvssquerysearch.h"
