/* gst-vss: public umbrella header of libgstvss-1.0
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */
#pragma once

#include "gstvssaws.h"
#include "gstvssbedrock.h"
#include "gstvsscred.h"
#include "gstvssdedupmeta.h"
#include "gstvssframeid.h"
#include "gstvssmeta.h"
#include "gstvsslocalembed.h"
#include "gstvssobjectstore.h"
#include "gstvsssigv4.h"
#include "gstvssspool.h"
#include "gstvssurl.h"
#include "gstvssvalkeyclient.h"
#include "gstvssvalkeysearch.h"
