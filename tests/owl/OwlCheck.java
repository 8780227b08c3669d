/*
 * OwlCheck: loads one RDF/XML file (or an ontology URL) with the OWL API and prints a JSON report.
 *
 * Used by tests/test_owl.py (compiled there with javac against Debian's
 * libowlapi-java). Usage: java OwlCheck FILE.owl|URL [NAMESPACE]
 *
 * Report keys:
 *   owlapiVersion       version of the OWL API jar that did the parsing
 *   parseErrors         messages of a failed load (empty when it loaded)
 *   missingImports      owl:imports that could not be loaded
 *   unparsedTriples     triples the RDF/XML parser could not turn into axioms
 *   guessedDeclarations IRIs used without a declaration, with the guessed kind
 *   dlViolations        OWL 2 DL profile violations, one text each
 *   unlabelled          entities in NAMESPACE without an rdfs:label
 *   axiomCount          number of axioms loaded
 */

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

import org.semanticweb.owlapi.apibinding.OWLManager;
import org.semanticweb.owlapi.formats.RDFXMLDocumentFormat;
import org.semanticweb.owlapi.io.FileDocumentSource;
import org.semanticweb.owlapi.io.IRIDocumentSource;
import org.semanticweb.owlapi.io.OWLOntologyDocumentSource;
import org.semanticweb.owlapi.io.OWLOntologyLoaderMetaData;
import org.semanticweb.owlapi.model.IRI;
import org.semanticweb.owlapi.model.MissingImportHandlingStrategy;
import org.semanticweb.owlapi.model.OWLAnnotationProperty;
import org.semanticweb.owlapi.model.OWLOntology;
import org.semanticweb.owlapi.model.OWLOntologyCreationException;
import org.semanticweb.owlapi.model.OWLOntologyLoaderConfiguration;
import org.semanticweb.owlapi.model.OWLOntologyManager;
import org.semanticweb.owlapi.model.parameters.Imports;
import org.semanticweb.owlapi.profiles.OWL2DLProfile;
import org.semanticweb.owlapi.search.EntitySearcher;
import org.semanticweb.owlapi.util.VersionInfo;

public final class OwlCheck {

    private static final String DEFAULT_NS = "https://w3id.org/tdkg/ontology#";

    private OwlCheck() {
    }

    public static void main(String[] args) {
        if (args.length < 1) {
            System.err.println("usage: java OwlCheck FILE.owl|URL [NAMESPACE]");
            System.exit(2);
        }
        String ns = args.length > 1 ? args[1] : DEFAULT_NS;
        System.out.println(report(args[0], ns));
    }

    static String report(String target, String ns) {
        OWLOntologyManager manager = OWLManager.createOWLOntologyManager();
        List<String> missing = new ArrayList<>();
        manager.addMissingImportListener(e -> missing.add(e.getImportedOntologyURI().toString()));
        OWLOntology ont;
        try {
            ont = load(manager, target);
        } catch (OWLOntologyCreationException | RuntimeException e) {
            return failed(e, missing);
        }
        return loaded(manager, ont, ns, missing);
    }

    /** A file is read as RDF/XML; an http(s) URL is fetched the way Protégé's "open from URL"
     *  does it: the OWL API sends its own Accept header and parses what the server answers. */
    static OWLOntology load(OWLOntologyManager manager, String target)
            throws OWLOntologyCreationException {
        OWLOntologyLoaderConfiguration config = new OWLOntologyLoaderConfiguration()
            .setMissingImportHandlingStrategy(MissingImportHandlingStrategy.SILENT)
            .setConnectionTimeout(5000)
            .setRetriesToAttempt(1);   // the number of attempts for a URL (0 would never fetch)
        OWLOntologyDocumentSource source = target.startsWith("http://") || target.startsWith("https://")
            ? new IRIDocumentSource(IRI.create(target))
            : new FileDocumentSource(new File(target), new RDFXMLDocumentFormat());
        return manager.loadOntologyFromOntologyDocument(source, config);
    }

    static String failed(Exception e, List<String> missing) {
        String msg = e.getClass().getSimpleName() + ": " + e.getMessage();
        return "{" + field("owlapiVersion", str(owlapiVersion())) + ","
            + field("parseErrors", strings(List.of(msg))) + ","
            + field("missingImports", strings(missing)) + "}";
    }

    static String loaded(OWLOntologyManager manager, OWLOntology ont, String ns,
            List<String> missing) {
        OWLOntologyLoaderMetaData meta =
            manager.getOntologyFormat(ont).getOntologyLoaderMetaData().orElse(null);
        List<String> unparsed = meta == null ? List.of()
            : meta.getUnparsedTriples().map(Object::toString).sorted().collect(Collectors.toList());
        List<String> guessed = meta == null ? List.of()
            : meta.getGuessedDeclarations().entries().stream()
                .map(en -> en.getKey() + " " + en.getValue().getSimpleName()).sorted()
                .collect(Collectors.toList());
        List<String> dl = new OWL2DLProfile().checkOntology(ont).getViolations().stream()
            .map(Object::toString).sorted().collect(Collectors.toList());
        return "{" + field("owlapiVersion", str(owlapiVersion())) + ","
            + field("parseErrors", "[]") + ","
            + field("missingImports", strings(missing)) + ","
            + field("unparsedTriples", strings(unparsed)) + ","
            + field("guessedDeclarations", strings(guessed)) + ","
            + field("dlViolations", strings(dl)) + ","
            + field("unlabelled", strings(unlabelled(manager, ont, ns))) + ","
            + field("axiomCount", Integer.toString(ont.getAxiomCount())) + "}";
    }

    static List<String> unlabelled(OWLOntologyManager manager, OWLOntology ont, String ns) {
        OWLAnnotationProperty label = manager.getOWLDataFactory().getRDFSLabel();
        return ont.signature(Imports.INCLUDED)
            .filter(e -> e.getIRI().toString().startsWith(ns))
            .filter(e -> EntitySearcher.getAnnotations(e, ont, label).count() == 0)
            .map(e -> e.getEntityType().getName() + " " + e.getIRI())
            .distinct().sorted().collect(Collectors.toList());
    }

    static String owlapiVersion() {
        return VersionInfo.getVersionInfo().getVersion();
    }

    static String field(String name, String json) {
        return str(name) + ":" + json;
    }

    static String strings(List<String> items) {
        return items.stream().map(OwlCheck::str).collect(Collectors.joining(",", "[", "]"));
    }

    static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.append('"').toString();
    }
}
