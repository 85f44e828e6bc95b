//! The person's language: Norwegian bokmål first, English second, and every text a page shows.
//!
//! Texts are plain structs of `&'static str` so a missing translation is a compile error, not a
//! blank on a page. Amounts and dates stay in Norwegian format in both languages (the figures are
//! Norwegian kroner and Oslo time).

use serde::{Deserialize, Serialize};

mod console;

pub use console::{CONSOLE_EN, CONSOLE_NB, ConsoleTexts};

/// The language a page is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum Lang {
    #[default]
    Nb,
    En,
}

impl Lang {
    /// The `lang` attribute and the `?lang=` value.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Nb => "nb",
            Lang::En => "en",
        }
    }

    /// The value of a `?lang=` switch, if it names a language we have.
    pub fn from_code(code: &str) -> Option<Lang> {
        match code {
            "nb" | "no" | "nn" => Some(Lang::Nb),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first language in an `Accept-Language` header that we have, else bokmål.
    pub fn negotiate(accept_language: &str) -> Lang {
        accept_language::parse(accept_language)
            .iter()
            .find_map(|tag| {
                let primary = tag.split('-').next().unwrap_or_default();
                Lang::from_code(&primary.to_ascii_lowercase())
            })
            .unwrap_or_default()
    }

    /// The other language, for the switch link.
    pub fn other(self) -> Lang {
        match self {
            Lang::Nb => Lang::En,
            Lang::En => Lang::Nb,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Lang::Nb => &NB,
            Lang::En => &EN,
        }
    }

    /// The partner console's texts.
    pub fn console(self) -> &'static ConsoleTexts {
        match self {
            Lang::Nb => &CONSOLE_NB,
            Lang::En => &CONSOLE_EN,
        }
    }
}

/// A title and an explanation for one kind of error page.
#[derive(Debug, Clone, Copy)]
pub struct ErrorText {
    pub title: &'static str,
    pub body: &'static str,
}

/// Every fixed text a page shows, in one language.
#[derive(Debug)]
pub struct Texts {
    pub site_name: &'static str,
    pub skip_to_content: &'static str,
    pub switch_language: &'static str,
    pub simulator_banner: &'static str,
    pub footer: &'static str,
    pub request_id: &'static str,

    pub landing_title: &'static str,
    pub landing_step: &'static str,
    pub landing_intro: &'static str,
    pub landing_what_heading: &'static str,
    pub landing_what: &'static str,
    pub landing_from_heading: &'static str,
    pub landing_from: &'static str,
    pub landing_purpose_heading: &'static str,
    pub purpose_presentation: &'static str,
    pub purpose_processing: &'static str,
    pub landing_duration_heading: &'static str,
    pub duration_single_use: &'static str,
    pub duration_days_before: &'static str,
    pub duration_days_after: &'static str,
    pub landing_how_heading: &'static str,
    pub landing_how: &'static str,
    pub nin_label: &'static str,
    pub nin_hint: &'static str,
    pub nin_invalid: &'static str,
    pub start_button: &'static str,

    pub debt_title: &'static str,
    pub debt_person: &'static str,
    pub debt_summary_heading: &'static str,
    pub debt_total: &'static str,
    pub debt_total_credit_limit: &'static str,
    pub debt_creditors_answered: &'static str,
    pub debt_incomplete_warning: &'static str,
    pub debt_none: &'static str,
    pub debt_consent_heading: &'static str,
    pub debt_consent_purpose: &'static str,
    pub debt_consent_expires: &'static str,
    pub debt_held_note: &'static str,
    pub debt_start_again: &'static str,
    pub end_session: &'static str,
    pub withdraw_note: &'static str,
    pub withdraw_button: &'static str,
    pub withdrawn_title: &'static str,
    pub withdrawn_body: &'static str,
    pub withdraw_ended_title: &'static str,
    pub withdraw_ended_body: &'static str,
    pub withdraw_pending_title: &'static str,
    pub withdraw_pending_body: &'static str,
    pub credit_facilities: &'static str,
    pub repayment_loans: &'static str,
    pub charge_cards: &'static str,
    pub unknown_loans: &'static str,
    pub unknown_loan_type: &'static str,
    pub unknown_loan_note: &'static str,
    pub unanswered_heading: &'static str,
    pub unanswered_note: &'static str,
    pub field_credit_limit: &'static str,
    pub field_interest_bearing: &'static str,
    pub field_non_interest_bearing: &'static str,
    pub field_original_balance: &'static str,
    pub field_balance: &'static str,
    pub field_terms: &'static str,
    pub field_terms_unit: &'static str,
    pub field_rate: &'static str,
    pub field_charges: &'static str,
    pub field_charge_period: &'static str,
    pub field_co_borrower: &'static str,
    pub field_timestamp: &'static str,
    pub field_loan_total: &'static str,
    pub not_reported: &'static str,
    pub period_monthly: &'static str,
    pub period_quarterly: &'static str,
    pub period_half_yearly: &'static str,
    pub period_yearly: &'static str,
    pub co_borrower_none: &'static str,
    pub co_borrower_has: &'static str,
    pub co_borrower_is: &'static str,
    pub co_borrower_unknown: &'static str,

    pub action_start_again: &'static str,
    pub action_home: &'static str,

    pub err_consent_denied: ErrorText,
    pub err_login_cancelled: ErrorText,
    pub err_ngi_server_error: ErrorText,
    pub err_invalid_scopes: ErrorText,
    pub err_ngi_other: ErrorText,
    pub err_flow_unknown: ErrorText,
    pub err_flow_expired: ErrorText,
    pub err_token_refused: ErrorText,
    pub err_client_refused: ErrorText,
    pub err_consent_not_valid: ErrorText,
    pub err_purpose_mismatch: ErrorText,
    pub err_ngi_unavailable: ErrorText,
    pub err_ngi_timeout: ErrorText,
    pub err_ngi_bad_answer: ErrorText,
    pub err_person_mismatch: ErrorText,
    pub err_id_token_refused: ErrorText,
    pub err_no_debt: ErrorText,
    pub err_bad_request: ErrorText,
    pub err_bad_link: ErrorText,
    pub err_not_found: ErrorText,
    pub err_unavailable: ErrorText,
    pub err_too_many_requests: ErrorText,
    pub err_cross_site: ErrorText,
    pub err_internal: ErrorText,
    pub err_no_consent: ErrorText,
}

pub static NB: Texts = Texts {
    site_name: "Demobanken – lånesøknad",
    skip_to_content: "Hopp til innholdet",
    switch_language: "English",
    simulator_banner: "Demo: koblet til en simulator av Norsk Gjeldsinformasjon. Ingen ekte opplysninger.",
    footer: "Gjeldsopplysningene kommer fra Norsk Gjeldsinformasjon AS.",
    request_id: "Referanse",

    landing_title: "Hent gjeldsopplysningene dine",
    landing_step: "Lånesøknad, steg 2 av 4: gjeld",
    landing_intro: "For å behandle søknaden trenger vi en oversikt over den usikrede gjelden din. Med ditt samtykke henter vi den direkte, så slipper du å fylle den inn selv.",
    landing_what_heading: "Hva vi henter",
    landing_what: "Rammekreditter, nedbetalingslån og kortkreditter du har hos banker og finansforetak: beløp, rente, gebyrer og om du har medlåntaker. Ikke boliglån eller billån.",
    landing_from_heading: "Hvem vi henter fra",
    landing_from: "Norsk Gjeldsinformasjon AS, som samler opplysninger om usikret gjeld fra bankene og finansforetakene i Norge.",
    landing_purpose_heading: "Hva opplysningene brukes til",
    purpose_presentation: "Opplysningene vises for deg, slik at du ser gjelden din samlet.",
    purpose_processing: "Opplysningene brukes til å vurdere søknaden din om lån eller kreditt.",
    landing_duration_heading: "Hvor lenge samtykket gjelder",
    duration_single_use: "Samtykket gjelder én gang: vi henter opplysningene én gang, rett etter at du har samtykket.",
    duration_days_before: "Samtykket gjelder i",
    duration_days_after: "dager. Du kan trekke det tilbake når som helst på norskgjeld.no.",
    landing_how_heading: "Slik gjør du det",
    landing_how: "Du sendes til Norsk Gjeldsinformasjon, logger inn med BankID og bekrefter samtykket der. Så kommer du tilbake hit og ser opplysningene.",
    nin_label: "Fødselsnummer (valgfritt)",
    nin_hint: "11 siffer. Brukes bare til å kontrollere at opplysningene vi får, gjelder deg.",
    nin_invalid: "Fødselsnummeret er ikke gyldig. Sjekk de 11 sifrene, eller la feltet stå tomt.",
    start_button: "Gå videre til Norsk Gjeldsinformasjon",

    debt_title: "Gjelden din",
    debt_person: "Gjelder fødselsnummer",
    debt_summary_heading: "Oppsummering",
    debt_total: "Samlet usikret gjeld",
    debt_total_credit_limit: "Samlet kredittramme",
    debt_creditors_answered: "Kreditorer som svarte",
    debt_incomplete_warning: "Ikke alle kreditorene dine svarte i tide. Summene kan derfor være for lave.",
    debt_none: "Norsk Gjeldsinformasjon har ingen usikret gjeld registrert på deg.",
    debt_consent_heading: "Samtykket",
    debt_consent_purpose: "Formål",
    debt_consent_expires: "Utløper",
    debt_held_note: "Vi viser disse opplysningene i inntil 15 minutter etter at de ble hentet. Deretter slettes de her.",
    debt_start_again: "Hent opplysningene på nytt",
    end_session: "Slett opplysningene nå",
    withdraw_note: "Samtykket varer til datoen over. Du kan trekke det tilbake nå, så kan ingen hente gjeldsopplysningene dine med det igjen.",
    withdraw_button: "Trekk tilbake samtykket",
    withdrawn_title: "Samtykket er trukket tilbake",
    withdrawn_body: "Norsk Gjeldsinformasjon har bekreftet at samtykket er trukket tilbake. Ingen kan hente gjeldsopplysningene dine med det lenger.",
    withdraw_ended_title: "Samtykket var allerede avsluttet",
    withdraw_ended_body: "Norsk Gjeldsinformasjon sier at samtykket allerede var avsluttet, så ingen kan hente gjeldsopplysningene dine med det.",
    withdraw_pending_title: "Vi har ikke fått bekreftet tilbaketrekkingen ennå",
    withdraw_pending_body: "Vi fikk ikke kontakt med Norsk Gjeldsinformasjon. Vi prøver igjen automatisk til de bekrefter at samtykket er trukket tilbake. Du kan også prøve igjen selv.",
    credit_facilities: "Rammekreditter",
    repayment_loans: "Nedbetalingslån",
    charge_cards: "Kortkreditter",
    unknown_loans: "Andre lån",
    unknown_loan_type: "Lånetype",
    unknown_loan_note: "Norsk Gjeldsinformasjon rapporterte et lån av en type vi ikke kan vise detaljer for. Det er ikke med i summene.",
    unanswered_heading: "Kreditorer som ikke svarte",
    unanswered_note: "Disse kreditorene svarte ikke i tide. Lånene deres mangler i oversikten.",
    field_credit_limit: "Kredittramme",
    field_interest_bearing: "Rentebærende saldo",
    field_non_interest_bearing: "Ikke rentebærende saldo",
    field_original_balance: "Opprinnelig lånebeløp",
    field_balance: "Restgjeld",
    field_terms: "Gjenstående løpetid",
    field_terms_unit: "måneder",
    field_rate: "Nominell rente",
    field_charges: "Gebyrer per måned",
    field_charge_period: "Gebyrene belastes",
    field_co_borrower: "Medlåntaker",
    field_timestamp: "Opplysningene er fra",
    field_loan_total: "Gjeld i alt",
    not_reported: "ikke oppgitt",
    period_monthly: "månedlig",
    period_quarterly: "kvartalsvis",
    period_half_yearly: "halvårlig",
    period_yearly: "årlig",
    co_borrower_none: "Ingen medlåntaker",
    co_borrower_has: "Du har en medlåntaker",
    co_borrower_is: "Du er medlåntaker",
    co_borrower_unknown: "Ikke oppgitt",

    action_start_again: "Start på nytt",
    action_home: "Til forsiden",

    err_consent_denied: ErrorText {
        title: "Du takket nei til å dele gjeldsopplysningene",
        body: "Ingen opplysninger er delt med oss. Vil du likevel dele dem, kan du starte på nytt.",
    },
    err_login_cancelled: ErrorText {
        title: "Innloggingen ble avbrutt",
        body: "Du avbrøt hos Norsk Gjeldsinformasjon, så ingen opplysninger er delt. Du kan starte på nytt når du vil.",
    },
    err_ngi_server_error: ErrorText {
        title: "Norsk Gjeldsinformasjon har en feil akkurat nå",
        body: "Samtykket ble ikke fullført, og ingen opplysninger er delt. Vent litt og prøv igjen.",
    },
    err_invalid_scopes: ErrorText {
        title: "Vi kunne ikke be om samtykket",
        body: "Forespørselen vår til Norsk Gjeldsinformasjon var satt opp feil. Det er vår feil, ikke din, og ingen opplysninger er delt. Kontakt oss og oppgi referansen nedenfor.",
    },
    err_ngi_other: ErrorText {
        title: "Samtykket ble ikke fullført",
        body: "Norsk Gjeldsinformasjon avsluttet uten å gi samtykke, og ingen opplysninger er delt. Prøv igjen.",
    },
    err_flow_unknown: ErrorText {
        title: "Vi fant ikke forespørselen din",
        body: "Lenken du kom tilbake med, hører ikke til en påbegynt forespørsel i denne nettleseren, eller den er allerede brukt. Ingen opplysninger er hentet. Start på nytt.",
    },
    err_flow_expired: ErrorText {
        title: "Tiden gikk ut",
        body: "Det gikk mer enn 10 minutter fra du startet til du kom tilbake. Av sikkerhetshensyn må du starte på nytt. Ingen opplysninger er hentet.",
    },
    err_token_refused: ErrorText {
        title: "Norsk Gjeldsinformasjon godtok ikke forespørselen",
        body: "Samtykket kunne ikke tas i bruk, for eksempel fordi det allerede er brukt eller har utløpt. Ingen opplysninger er hentet. Start på nytt.",
    },
    err_client_refused: ErrorText {
        title: "Norsk Gjeldsinformasjon avviste forespørselen vår",
        body: "Det er vår feil, ikke din, og ingen opplysninger er hentet. Prøv igjen senere, eller kontakt oss og oppgi referansen nedenfor.",
    },
    err_consent_not_valid: ErrorText {
        title: "Samtykket er ikke lenger gyldig",
        body: "Norsk Gjeldsinformasjon svarte at samtykket ikke gjelder, for eksempel fordi det er brukt eller trukket tilbake. Ingen opplysninger er hentet. Start på nytt for å gi et nytt samtykke.",
    },
    err_purpose_mismatch: ErrorText {
        title: "Samtykket gjaldt et annet formål",
        body: "Norsk Gjeldsinformasjon ga samtykke til et annet formål enn det vi ba om. Vi viser derfor ikke opplysningene, og de er ikke lagret. Start på nytt.",
    },
    err_ngi_unavailable: ErrorText {
        title: "Vi får ikke kontakt med Norsk Gjeldsinformasjon",
        body: "Tjenesten deres svarer ikke som den skal akkurat nå. Ingen opplysninger er hentet. Prøv igjen om noen minutter.",
    },
    err_ngi_timeout: ErrorText {
        title: "Norsk Gjeldsinformasjon svarte ikke i tide",
        body: "Vi ventet for lenge på svar. Ingen opplysninger er hentet. Prøv igjen om noen minutter.",
    },
    err_ngi_bad_answer: ErrorText {
        title: "Vi forsto ikke svaret fra Norsk Gjeldsinformasjon",
        body: "Svaret var ufullstendig eller ugyldig, så vi viser ingenting. Prøv igjen om litt.",
    },
    err_person_mismatch: ErrorText {
        title: "Opplysningene gjelder en annen person",
        body: "Fødselsnummeret du oppga, stemmer ikke med den som logget inn hos Norsk Gjeldsinformasjon. Vi viser derfor ikke opplysningene, og de er ikke lagret. Start på nytt og logg inn som deg selv.",
    },
    err_id_token_refused: ErrorText {
        title: "Vi kunne ikke bekrefte svaret fra Norsk Gjeldsinformasjon",
        body: "Identitetsbeviset som fulgte med svaret besto ikke kontrollen vår. Vi viser derfor ikke opplysningene, og ingenting er lagret. Start på nytt.",
    },
    err_no_debt: ErrorText {
        title: "Ingen gjeldsopplysninger å vise",
        body: "Opplysningene vises bare i 15 minutter etter at de er hentet, og bare i nettleseren der du ga samtykket. Start på nytt for å hente dem igjen.",
    },
    err_bad_request: ErrorText {
        title: "Forespørselen var ugyldig",
        body: "Noe i adressen eller skjemaet var ikke slik vi ventet. Gå til forsiden og prøv igjen.",
    },
    err_bad_link: ErrorText {
        title: "Lenken kan ikke brukes",
        body: "Lenken du fulgte er ugyldig, endret eller utløpt. Gå tilbake til søknaden din hos långiveren og start derfra på nytt.",
    },
    err_not_found: ErrorText {
        title: "Siden finnes ikke",
        body: "Sjekk adressen, eller gå til forsiden.",
    },
    err_unavailable: ErrorText {
        title: "Tjenesten er midlertidig utilgjengelig",
        body: "Vi har et kortvarig problem. Ingen opplysninger er hentet. Prøv igjen om litt.",
    },
    err_cross_site: ErrorText {
        title: "Skjemaet kom fra et annet nettsted",
        body: "Vi tar bare imot skjemaer fra våre egne sider. Gå til forsiden og start derfra.",
    },
    err_too_many_requests: ErrorText {
        title: "For mange forsøk på kort tid",
        body: "Det er startet mange forespørsler herfra det siste minuttet. Vent et minutt og prøv igjen.",
    },
    err_no_consent: ErrorText {
        title: "Ingen samtykke å trekke tilbake",
        body: "Vi finner ikke et varig samtykke fra deg i denne nettleseren. Et samtykke som bare gjaldt én henting, er allerede brukt opp.",
    },
    err_internal: ErrorText {
        title: "Noe gikk galt hos oss",
        body: "Prøv igjen. Skjer det igjen, kontakt oss og oppgi referansen nedenfor.",
    },
};

pub static EN: Texts = Texts {
    site_name: "Demobanken – loan application",
    skip_to_content: "Skip to content",
    switch_language: "Norsk",
    simulator_banner: "Demo: connected to a simulator of Norsk Gjeldsinformasjon. No real data.",
    footer: "The debt information comes from Norsk Gjeldsinformasjon AS.",
    request_id: "Reference",

    landing_title: "Fetch your debt information",
    landing_step: "Loan application, step 2 of 4: debt",
    landing_intro: "To process your application we need an overview of your unsecured debt. With your consent we fetch it directly, so you do not have to fill it in yourself.",
    landing_what_heading: "What we fetch",
    landing_what: "Credit facilities, repayment loans and charge cards you have with banks and finance companies: amounts, interest, fees and whether you have a co-borrower. Not mortgages or car loans.",
    landing_from_heading: "Where it comes from",
    landing_from: "Norsk Gjeldsinformasjon AS, which collects information on unsecured debt from the banks and finance companies in Norway.",
    landing_purpose_heading: "What it is used for",
    purpose_presentation: "The information is shown to you, so you can see all your debt in one place.",
    purpose_processing: "The information is used to assess your application for a loan or credit.",
    landing_duration_heading: "How long the consent lasts",
    duration_single_use: "The consent is for one use: we fetch the information once, right after you consent.",
    duration_days_before: "The consent lasts",
    duration_days_after: "days. You can withdraw it at any time at norskgjeld.no.",
    landing_how_heading: "How it works",
    landing_how: "You are sent to Norsk Gjeldsinformasjon, log in with BankID and confirm the consent there. Then you come back here and see the information.",
    nin_label: "National identity number (optional)",
    nin_hint: "11 digits. Only used to check that the information we receive is about you.",
    nin_invalid: "The national identity number is not valid. Check the 11 digits, or leave the field empty.",
    start_button: "Continue to Norsk Gjeldsinformasjon",

    debt_title: "Your debt",
    debt_person: "National identity number",
    debt_summary_heading: "Summary",
    debt_total: "Total unsecured debt",
    debt_total_credit_limit: "Total credit limit",
    debt_creditors_answered: "Creditors that answered",
    debt_incomplete_warning: "Not all of your creditors answered in time. The totals may therefore be too low.",
    debt_none: "Norsk Gjeldsinformasjon has no unsecured debt registered for you.",
    debt_consent_heading: "The consent",
    debt_consent_purpose: "Purpose",
    debt_consent_expires: "Expires",
    debt_held_note: "We show this information for up to 15 minutes after it was fetched. Then it is deleted here.",
    debt_start_again: "Fetch the information again",
    end_session: "Delete the information now",
    withdraw_note: "The consent lasts until the date above. You can withdraw it now, and then no one can fetch your debt information with it again.",
    withdraw_button: "Withdraw consent",
    withdrawn_title: "The consent is withdrawn",
    withdrawn_body: "Norsk Gjeldsinformasjon has confirmed that the consent is withdrawn. No one can fetch your debt information with it any more.",
    withdraw_ended_title: "The consent had already ended",
    withdraw_ended_body: "Norsk Gjeldsinformasjon says the consent had already ended, so no one can fetch your debt information with it.",
    withdraw_pending_title: "The withdrawal is not confirmed yet",
    withdraw_pending_body: "We could not reach Norsk Gjeldsinformasjon. We will keep trying automatically until they confirm that the consent is withdrawn. You can also try again yourself.",
    credit_facilities: "Credit facilities",
    repayment_loans: "Repayment loans",
    charge_cards: "Charge cards",
    unknown_loans: "Other loans",
    unknown_loan_type: "Loan type",
    unknown_loan_note: "Norsk Gjeldsinformasjon reported a loan of a type we cannot show details for. It is not included in the totals.",
    unanswered_heading: "Creditors that did not answer",
    unanswered_note: "These creditors did not answer in time. Their loans are missing from the overview.",
    field_credit_limit: "Credit limit",
    field_interest_bearing: "Interest-bearing balance",
    field_non_interest_bearing: "Non-interest-bearing balance",
    field_original_balance: "Original loan amount",
    field_balance: "Outstanding balance",
    field_terms: "Remaining term",
    field_terms_unit: "months",
    field_rate: "Nominal interest rate",
    field_charges: "Fees per month",
    field_charge_period: "Fees are charged",
    field_co_borrower: "Co-borrower",
    field_timestamp: "Information as of",
    field_loan_total: "Total owed",
    not_reported: "not reported",
    period_monthly: "monthly",
    period_quarterly: "quarterly",
    period_half_yearly: "half-yearly",
    period_yearly: "yearly",
    co_borrower_none: "No co-borrower",
    co_borrower_has: "You have a co-borrower",
    co_borrower_is: "You are a co-borrower",
    co_borrower_unknown: "Not reported",

    action_start_again: "Start again",
    action_home: "Go to the front page",

    err_consent_denied: ErrorText {
        title: "You declined to share your debt information",
        body: "Nothing has been shared with us. If you change your mind, you can start again.",
    },
    err_login_cancelled: ErrorText {
        title: "The login was cancelled",
        body: "You cancelled at Norsk Gjeldsinformasjon, so nothing has been shared. You can start again whenever you like.",
    },
    err_ngi_server_error: ErrorText {
        title: "Norsk Gjeldsinformasjon has a problem right now",
        body: "The consent was not completed and nothing has been shared. Wait a little and try again.",
    },
    err_invalid_scopes: ErrorText {
        title: "We could not ask for your consent",
        body: "Our request to Norsk Gjeldsinformasjon was set up wrongly. This is our fault, not yours, and nothing has been shared. Please contact us and give the reference below.",
    },
    err_ngi_other: ErrorText {
        title: "The consent was not completed",
        body: "Norsk Gjeldsinformasjon ended without a consent, and nothing has been shared. Please try again.",
    },
    err_flow_unknown: ErrorText {
        title: "We could not find your request",
        body: "The link you came back with does not belong to a request started in this browser, or it has already been used. Nothing has been fetched. Please start again.",
    },
    err_flow_expired: ErrorText {
        title: "The time ran out",
        body: "More than 10 minutes passed between starting and coming back. For your security, please start again. Nothing has been fetched.",
    },
    err_token_refused: ErrorText {
        title: "Norsk Gjeldsinformasjon did not accept the request",
        body: "The consent could not be used, for example because it was already used or has expired. Nothing has been fetched. Please start again.",
    },
    err_client_refused: ErrorText {
        title: "Norsk Gjeldsinformasjon turned our request down",
        body: "This is our fault, not yours, and no information was fetched. Please try again later, or contact us and quote the reference below.",
    },
    err_consent_not_valid: ErrorText {
        title: "The consent is no longer valid",
        body: "Norsk Gjeldsinformasjon answered that the consent is not valid, for example because it was used or withdrawn. Nothing has been fetched. Start again to give a new consent.",
    },
    err_purpose_mismatch: ErrorText {
        title: "The consent was for another purpose",
        body: "Norsk Gjeldsinformasjon granted consent for another purpose than the one we asked for. So we do not show the information, and it is not kept. Please start again.",
    },
    err_ngi_unavailable: ErrorText {
        title: "We cannot reach Norsk Gjeldsinformasjon",
        body: "Their service is not answering as it should right now. Nothing has been fetched. Please try again in a few minutes.",
    },
    err_ngi_timeout: ErrorText {
        title: "Norsk Gjeldsinformasjon did not answer in time",
        body: "We waited too long for an answer. Nothing has been fetched. Please try again in a few minutes.",
    },
    err_ngi_bad_answer: ErrorText {
        title: "We could not understand the answer from Norsk Gjeldsinformasjon",
        body: "The answer was incomplete or invalid, so we show nothing. Please try again in a little while.",
    },
    err_person_mismatch: ErrorText {
        title: "The information is about another person",
        body: "The national identity number you gave does not match the person who logged in at Norsk Gjeldsinformasjon. So we do not show the information, and it has not been stored. Start again and log in as yourself.",
    },
    err_id_token_refused: ErrorText {
        title: "We could not confirm the answer from Norsk Gjeldsinformasjon",
        body: "The proof of identity that came with the answer did not pass our checks. So we do not show the information, and nothing is kept. Please start again.",
    },
    err_no_debt: ErrorText {
        title: "No debt information to show",
        body: "The information is shown only for 15 minutes after it was fetched, and only in the browser where you gave consent. Start again to fetch it again.",
    },
    err_bad_request: ErrorText {
        title: "The request was not valid",
        body: "Something in the address or the form was not as expected. Go to the front page and try again.",
    },
    err_bad_link: ErrorText {
        title: "This link cannot be used",
        body: "The link you followed is not valid, has been altered or has expired. Go back to your application with the lender and start again from there.",
    },
    err_not_found: ErrorText {
        title: "This page does not exist",
        body: "Check the address, or go to the front page.",
    },
    err_unavailable: ErrorText {
        title: "The service is temporarily unavailable",
        body: "We have a short-lived problem. Nothing has been fetched. Please try again in a little while.",
    },
    err_cross_site: ErrorText {
        title: "The form came from another website",
        body: "We only accept forms from our own pages. Go to the front page and start from there.",
    },
    err_too_many_requests: ErrorText {
        title: "Too many attempts in a short time",
        body: "Many requests were started from here in the last minute. Wait a minute and try again.",
    },
    err_no_consent: ErrorText {
        title: "No consent to withdraw",
        body: "We find no lasting consent of yours in this browser. A consent that was for one fetch only has already been used up.",
    },
    err_internal: ErrorText {
        title: "Something went wrong on our side",
        body: "Please try again. If it happens again, contact us and give the reference below.",
    },
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bokmal_is_the_default_language() {
        assert_eq!(Lang::negotiate(""), Lang::Nb);
        assert_eq!(Lang::negotiate("de-DE,fr;q=0.8"), Lang::Nb);
    }

    #[test]
    fn accept_language_picks_the_first_language_we_have() {
        assert_eq!(Lang::negotiate("en-US,en;q=0.9,nb;q=0.8"), Lang::En);
        assert_eq!(Lang::negotiate("nb-NO,nb;q=0.9,en;q=0.8"), Lang::Nb);
        assert_eq!(Lang::negotiate("sv;q=1.0, en-GB;q=0.7, no;q=0.9"), Lang::Nb);
        assert_eq!(Lang::negotiate("de, EN;q=0.5"), Lang::En);
    }

    #[test]
    fn language_switch_codes_round_trip() {
        for lang in [Lang::Nb, Lang::En] {
            assert_eq!(Lang::from_code(lang.code()), Some(lang));
            assert_ne!(lang.other(), lang);
        }
        assert_eq!(Lang::from_code("xx"), None);
    }
}
